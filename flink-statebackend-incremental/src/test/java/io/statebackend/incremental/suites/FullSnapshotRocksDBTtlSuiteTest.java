package io.statebackend.incremental.suites;

import org.apache.flink.runtime.state.ttl.StateBackendTestContext;
import org.apache.flink.runtime.state.ttl.TtlStateTestBase;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;

/** Flink's TTL suite with incremental checkpoints off (canonical full checkpoints). */
public class FullSnapshotRocksDBTtlSuiteTest extends TtlStateTestBase {

    @Override
    protected StateBackendTestContext createStateBackendTestContext(TtlTimeProvider timeProvider) {
        return new TtlSuiteBackendContext(timeProvider, false);
    }
}
