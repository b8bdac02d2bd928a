extension LocalPostgresCluster {
    /// Stops the server (`pg_ctl stop -m fast`: every session is ended, open transactions roll back) and starts it
    /// again on the same port with the same data, as an operator's restart does. For fault tests of the broker.
    ///
    /// - Throws: `stop_failed` or `start_failed`, naming the step, with the end of its log.
    public func restart() throws(LocalClusterError) {
        try ClusterSetup.stopServer(self)
        try ClusterSetup.startServer(self)
    }
}
