package io.statebackend.incremental.state;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.testutils.IncrementalTestHarness;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.PerfContext;
import org.rocksdb.PerfLevel;

import java.nio.file.Path;

import static io.statebackend.incremental.testutils.IncrementalTestHarness.get;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.writeAndFlush;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The thread that builds a backend (in Flink the task thread, which then accesses its state) does
 * not count RocksDB's perf context, which costs thread-local updates on every access and which
 * nothing reads.
 */
class TaskThreadPerfContextTest {

    @TempDir Path tmp;

    private IncrementalTestHarness harness;

    @BeforeEach
    void setUp() {
        harness = new IncrementalTestHarness(tmp);
    }

    @AfterEach
    void tearDown() throws Exception {
        harness.close();
    }

    @Test
    void readsOnTheThreadThatBuiltTheBackendCountNothing() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        writeAndFlush(backend, 0, 100, "a");
        PerfContext perf = backend.getDb().getPerfContext();
        perf.reset();

        assertThat(get(backend, 42)).isEqualTo("a-42");

        assertThat(perf.getUserKeyComparisonCount()).isZero();
        assertThat(perf.getBlockCacheHitCount()).isZero();

        // counting on this thread again, the same read counts: the assertions above can fail
        backend.getDb().setPerfLevel(PerfLevel.ENABLE_COUNT);
        try {
            perf.reset();
            get(backend, 42);
            assertThat(perf.getUserKeyComparisonCount()).isPositive();
        } finally {
            backend.getDb().setPerfLevel(PerfLevel.DISABLE);
        }
        harness.dispose(backend);
    }
}
