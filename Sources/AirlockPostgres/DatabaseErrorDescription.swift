import PostgresNIO

/// Turns a postgres-nio error into one line an operator can act on, without the query's text or bound values.
///
/// `PSQLError.description` is deliberately generic; the useful parts are the server's message and the
/// underlying connection error. Bound values (which could hold secrets) are never included. Any other error is
/// described by its own `description` (an Airlock error's is its one-line message).
public func describeDatabaseError(_ error: any Error) -> String {
    if let transaction = error as? PostgresTransactionError,
       let inner = transaction.closureError ?? transaction.commitError ?? transaction.beginError {
        return describeDatabaseError(inner)
    }
    guard let error = error as? PSQLError else { return String(describing: error) }
    if let message = error.serverInfo?[.message] {
        let state = error.serverInfo?[.sqlState].map { " (sqlstate \($0))" } ?? ""
        return "\(message)\(state)"
    }
    if let underlying = error.underlying {
        return "\(error.code.description): \(underlying)"
    }
    return error.code.description
}

/// The SQLSTATE of a server error, if `error` is one.
public func databaseErrorState(_ error: any Error) -> String? {
    if let transaction = error as? PostgresTransactionError,
       let inner = transaction.closureError ?? transaction.commitError {
        return databaseErrorState(inner)
    }
    return (error as? PSQLError)?.serverInfo?[.sqlState]
}
