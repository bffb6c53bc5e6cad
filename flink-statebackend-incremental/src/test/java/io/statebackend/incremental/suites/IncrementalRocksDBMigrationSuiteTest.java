package io.statebackend.incremental.suites;

import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;

import org.apache.flink.runtime.state.CheckpointStorage;
import org.apache.flink.runtime.state.StateBackendMigrationTestBase;
import org.apache.flink.runtime.state.storage.FileSystemCheckpointStorage;
import org.apache.flink.testutils.junit.extensions.parameterized.Parameter;
import org.apache.flink.testutils.junit.extensions.parameterized.ParameterizedTestExtension;
import org.apache.flink.testutils.junit.extensions.parameterized.Parameters;

import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

/** Flink's contract for state schema evolution, against every configuration of this backend. */
@ExtendWith(ParameterizedTestExtension.class)
public class IncrementalRocksDBMigrationSuiteTest
        extends StateBackendMigrationTestBase<IncrementalRocksDBStateBackend> {

    @TempDir Path backendDir;

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
                timers, incremental, backendDir.resolve("rocksdb").toAbsolutePath().toString());
    }

    @Override
    protected CheckpointStorage getCheckpointStorage() {
        return new FileSystemCheckpointStorage(backendDir.resolve("checkpoints").toUri());
    }
}
