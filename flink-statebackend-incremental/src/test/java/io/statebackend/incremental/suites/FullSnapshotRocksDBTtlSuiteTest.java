package io.statebackend.incremental.suites;

/** Flink's TTL suite with incremental checkpoints off (canonical full checkpoints). */
public class FullSnapshotRocksDBTtlSuiteTest extends RocksDBTtlSuiteBase {

    @Override
    protected boolean incrementalCheckpoints() {
        return false;
    }
}
