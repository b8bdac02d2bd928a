// `describeDatabaseError(_:)` and `databaseErrorState(_:)` come with the store: callers describe the store's errors
// with them. They live in `AirlockPostgres`, which the providers share too (adapters never import each other).
@_exported import AirlockPostgres
