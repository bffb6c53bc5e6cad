package io.statebackend.incremental.suites;

/** Flink's TTL suite restoring from canonical savepoints. */
public class SavepointRocksDBTtlSuiteTest extends RocksDBTtlSuiteBase {

    @Override
    protected boolean incrementalCheckpoints() {
        return true;
    }

    @Override
    public boolean isSavepoint() {
        return true;
    }
}
