package io.statebackend.incremental.suites;

import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;

import org.apache.flink.runtime.state.CheckpointStorage;
import org.apache.flink.runtime.state.StateBackendTestBase;
import org.apache.flink.runtime.state.storage.FileSystemCheckpointStorage;
import org.apache.flink.testutils.junit.extensions.parameterized.Parameter;
import org.apache.flink.testutils.junit.extensions.parameterized.ParameterizedTestExtension;
import org.apache.flink.testutils.junit.extensions.parameterized.Parameters;

import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

/** Flink's contract for keyed state backends, run against every configuration of this one. */
@ExtendWith(ParameterizedTestExtension.class)
public class IncrementalRocksDBStateBackendSuiteTest
        extends StateBackendTestBase<IncrementalRocksDBStateBackend> {

    @TempDir Path tempDir;

    @Parameter(0)
    public PriorityQueueStateType timers;

    @Parameter(1)
    public boolean incremental;

    @Parameters(name = "timers={0}, incremental={1}")
    public static List<Object[]> parameters() {
        return SuiteConfigurations.timerServiceAndIncremental();
    }

    @Override
    protected IncrementalRocksDBStateBackend getStateBackend() {
        return SuiteConfigurations.backend(
                timers, incremental, tempDir.resolve("rocksdb").toAbsolutePath().toString());
    }

    @Override
    protected CheckpointStorage getCheckpointStorage() {
        return new FileSystemCheckpointStorage(tempDir.resolve("checkpoints").toUri());
    }

    @Override
    protected boolean isSerializerPresenceRequiredOnRestore() {
        return false;
    }

    @Override
    protected boolean supportsAsynchronousSnapshots() {
        return true;
    }

    @Override
    protected boolean isSafeToReuseKVState() {
        return true;
    }
}
