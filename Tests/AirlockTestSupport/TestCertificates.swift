import Foundation

/// A certificate authority and a server certificate it signed, for tests of TLS on 127.0.0.1 only.
///
/// Made once with `openssl` (P-256, valid until 2126): the server certificate names the host `localhost` and no
/// address, so a client that checks the name accepts it at `localhost` and refuses it at `127.0.0.1`. (NIOSSL
/// matches a certificate's IP addresses against the address connected to even when it connects by name, so a
/// certificate naming 127.0.0.1 would pass at `localhost` too.) The private key is a test fixture, published here
/// on purpose: it protects nothing.
public enum TestCertificates {
    /// The authority (`CN=Airlock test CA`) that signed ``serverCertificate``.
    public static let authority = """
-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUJ4K9HOxB6bZBJSoExtK55xojiMwwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPQWlybG9jayB0ZXN0IENBMCAXDTI2MTIwNDEzNDIwNFoYDzIx
MjYxMTEwMTM0MjA0WjAaMRgwFgYDVQQDDA9BaXJsb2NrIHRlc3QgQ0EwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAAStZQtuXs2Dn9sFFzJkqij0jQhD+tuRHYWU1pX/
l8zi/hbSIUN829rCasfJBF+JO+ti/K84vBYIQ+xOjI/2Y0tdo2MwYTAdBgNVHQ4E
FgQU1+SYdZA8YVP/OEQjaIuVGuo4BrAwHwYDVR0jBBgwFoAU1+SYdZA8YVP/OEQj
aIuVGuo4BrAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZI
zj0EAwIDSAAwRQIhALDZRNxyQX6GzBBpnS9b2jjdM9VZDoXSj/lHWBonJoIbAiBD
BviatPEn++gor3/jAZ1JnkSC7Fu1WjKhxzWej4nCgw==
-----END CERTIFICATE-----
"""

    /// Another authority (`CN=Another test CA`), which signed nothing here.
    public static let otherAuthority = """
-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUYSmfMLopG6TU5XeJr+pq24UEHtUwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPQW5vdGhlciB0ZXN0IENBMCAXDTI2MTIwNDEzNDIwNFoYDzIx
MjYxMTEwMTM0MjA0WjAaMRgwFgYDVQQDDA9Bbm90aGVyIHRlc3QgQ0EwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAAQmn06aLf42Mz3n/eVKjWbBw847OwVW0KLPwIOO
bMpLJFJ4TmEaevKGtchK5D24v3y+7dSEE3MKx0zYbqkmMBato2MwYTAdBgNVHQ4E
FgQUuM0h+uKzLzRAHY0RE0h4NoqfmmMwHwYDVR0jBBgwFoAUuM0h+uKzLzRAHY0R
E0h4NoqfmmMwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZI
zj0EAwIDSAAwRQIhAMuKRGVmEZGJSwIjHInW/9TM8W1lJhuYqUrYxhRZVaSMAiA3
siphF7j56WAomIsv/yqyh4n9aM8K0csIiyu+m/TcDQ==
-----END CERTIFICATE-----
"""

    /// The server's certificate: `CN=localhost`, subjectAltName `DNS:localhost`, signed by ``authority``.
    public static let serverCertificate = """
-----BEGIN CERTIFICATE-----
MIIBvDCCAWKgAwIBAgIUNEac+KDxP+guXUYxXfL3nZrn57gwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPQWlybG9jayB0ZXN0IENBMCAXDTI2MTIwNDEzNTU1M1oYDzIx
MjYxMTEwMTM1NTUzWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAARyRakQfTpEBEbRM2+ss3117P3t5OwTNGXDDOY7TDgcaAgp
82SJ+vW138ne2ruoYNF4YFAylDcHryNZ3sTBklYmo4GJMIGGMBQGA1UdEQQNMAuC
CWxvY2FsaG9zdDAJBgNVHRMEAjAAMA4GA1UdDwEB/wQEAwIHgDATBgNVHSUEDDAK
BggrBgEFBQcDATAdBgNVHQ4EFgQUT+ZajqxobQ3wDH37cBow60dRAnAwHwYDVR0j
BBgwFoAU1+SYdZA8YVP/OEQjaIuVGuo4BrAwCgYIKoZIzj0EAwIDSAAwRQIhAM2k
v5XwI0ysfDuQUhANal0OgaWt8tHkmzl3gGggwYDZAiAHanOc5AG+b1yk9Ab44z8G
SoOLVdKrT36pS3bDiZkf2A==
-----END CERTIFICATE-----
"""

    /// The server certificate's private key (a test fixture).
    public static let serverKey = """
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgqVkEWe0IC+6/agsR
adT28XA0Sm4jxGFDRPMWU8Maa++hRANCAARyRakQfTpEBEbRM2+ss3117P3t5OwT
NGXDDOY7TDgcaAgp82SJ+vW138ne2ruoYNF4YFAylDcHryNZ3sTBklYm
-----END PRIVATE KEY-----
"""

    /// Writes `text` to `name` in `directory` with mode 0600, and returns its path.
    public static func write(_ text: String, named name: String, in directory: URL) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data((text + "\n").utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
        return url.path
    }
}
