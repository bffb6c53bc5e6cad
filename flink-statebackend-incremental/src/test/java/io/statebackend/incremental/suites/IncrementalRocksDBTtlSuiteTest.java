package io.statebackend.incremental.suites;

/** Flink's TTL suite with incremental checkpoints on. */
public class IncrementalRocksDBTtlSuiteTest extends RocksDBTtlSuiteBase {

    @Override
    protected boolean incrementalCheckpoints() {
        return true;
    }
}
