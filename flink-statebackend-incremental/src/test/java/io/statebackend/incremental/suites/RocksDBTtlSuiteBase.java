package io.statebackend.incremental.suites;

import org.apache.flink.runtime.state.ttl.StateBackendTestContext;
import org.apache.flink.runtime.state.ttl.TtlStateTestBase;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;

/** Flink's TTL suite on this backend; subclasses choose how snapshots are taken. */
abstract class RocksDBTtlSuiteBase extends TtlStateTestBase {

    protected abstract boolean incrementalCheckpoints();

    @Override
    protected StateBackendTestContext createStateBackendTestContext(TtlTimeProvider timeProvider) {
        return new TtlSuiteBackendContext(timeProvider, incrementalCheckpoints());
    }

    /**
     * The suite skips its incremental-cleanup tests unless this returns true. That cleanup strategy
     * walks state with {@code InternalKvState#getStateIncrementalVisitor}, which only heap state
     * tables have; Flink's RocksDB backend does not support it either. Its RocksDB counterpart, the
     * TTL compaction filter, exists only in FRocksDB, not in upstream RocksDB.
     */
    @Override
    protected boolean incrementalCleanupSupported() {
        return false;
    }
}
