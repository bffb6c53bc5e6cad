package io.statebackend.incremental.restore;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.TestStreamFactories;

import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Collections;

import static io.statebackend.incremental.testutils.IncrementalTestHarness.get;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.writeAndFlush;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A checkpoint taken with Flink's compaction defaults restores with the compaction defaults for
 * incremental checkpoints, and the other way round, as when a job moves to a version with the new
 * defaults or switches them off: the files keep their levels and compaction goes on from there.
 */
class CompactionDefaultsRestoreTest {

    private static final KeyGroupRange ALL =
            new KeyGroupRange(0, IncrementalTestHarness.MAX_PARALLELISM - 1);
    private static final int KEYS_PER_FLUSH = 2_000;
    private static final int FLUSHES = 6;

    @TempDir Path tempDir;

    private IncrementalTestHarness harness;
    private CheckpointStreamFactory factory;

    @BeforeEach
    void setUp() throws Exception {
        harness = new IncrementalTestHarness(tempDir.resolve("local"));
        factory = TestStreamFactories.files(tempDir.resolve("storage"));
    }

    @AfterEach
    void tearDown() throws Exception {
        harness.close();
    }

    @Test
    void restoresAcrossTheSwitchBothWays() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> classic =
                harness.createBackend(backend(false), ALL, Collections.emptyList());
        // more flushes than the level-0 trigger, so that the checkpoint holds compacted files
        for (int i = 0; i < FLUSHES; i++) {
            writeAndFlush(classic, i * KEYS_PER_FLUSH / 2, KEYS_PER_FLUSH, "a" + i);
        }
        IncrementalRemoteKeyedStateHandle first = harness.checkpoint(classic, 1, factory);
        harness.register(first);
        harness.dispose(classic);

        IncrementalRocksDBKeyedStateBackend<Integer> tuned =
                harness.createBackend(backend(true), ALL, Collections.singletonList(first));
        assertValues(tuned, "a");
        for (int i = FLUSHES; i < 2 * FLUSHES; i++) {
            writeAndFlush(tuned, i * KEYS_PER_FLUSH / 2, KEYS_PER_FLUSH, "b" + i);
        }
        IncrementalRemoteKeyedStateHandle second = harness.checkpoint(tuned, 2, factory);
        harness.register(second);
        harness.dispose(tuned);

        IncrementalRocksDBKeyedStateBackend<Integer> classicAgain =
                harness.createBackend(backend(false), ALL, Collections.singletonList(second));
        assertValues(classicAgain, "b");
    }

    private static IncrementalRocksDBStateBackend backend(boolean tunedForCheckpoints) {
        return new IncrementalRocksDBStateBackend(true)
                .withSetting(
                        IncrementalRocksDBOptions.COMPACTION_TUNED_FOR_INCREMENTAL_CHECKPOINTS
                                .key(),
                        String.valueOf(tunedForCheckpoints));
    }

    /**
     * Every key holds the value of the last flush that wrote it; {@code prefix} of the last run.
     */
    private static void assertValues(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, String prefix) throws Exception {
        int flushes = prefix.equals("a") ? FLUSHES : 2 * FLUSHES;
        int keys = (flushes - 1) * KEYS_PER_FLUSH / 2 + KEYS_PER_FLUSH;
        for (int key = 0; key < keys; key++) {
            int lastFlush = Math.min(flushes - 1, key / (KEYS_PER_FLUSH / 2));
            String tag = (lastFlush < FLUSHES ? "a" : "b") + lastFlush;
            assertThat(get(backend, key)).as("key %s", key).isEqualTo(tag + "-" + key);
        }
    }
}
