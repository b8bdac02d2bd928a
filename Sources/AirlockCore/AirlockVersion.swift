/// Airlock's release version, as records written for other systems name it (OCSF `metadata.product.version`).
public enum AirlockVersion {
    /// The version of this build, `MAJOR.MINOR.PATCH`; raised by each release.
    public static let current = "0.1.0"
}
