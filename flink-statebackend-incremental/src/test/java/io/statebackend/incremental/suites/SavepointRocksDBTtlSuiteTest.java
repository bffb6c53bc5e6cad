package io.statebackend.incremental.suites;

import org.apache.flink.runtime.state.ttl.StateBackendTestContext;
import org.apache.flink.runtime.state.ttl.TtlStateTestBase;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;

/** Flink's TTL suite restoring from canonical savepoints. */
public class SavepointRocksDBTtlSuiteTest extends TtlStateTestBase {

    @Override
    protected StateBackendTestContext createStateBackendTestContext(TtlTimeProvider timeProvider) {
        return new TtlSuiteBackendContext(timeProvider, true);
    }

    @Override
    public boolean isSavepoint() {
        return true;
    }
}
