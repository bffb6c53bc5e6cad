package io.statebackend.incremental.suites;

import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;

import org.apache.flink.runtime.state.CheckpointStorage;
import org.apache.flink.runtime.state.StateBackendMigrationTestBase;
import org.apache.flink.runtime.state.storage.FileSystemCheckpointStorage;
import org.apache.flink.testutils.junit.extensions.parameterized.Parameter;
import org.apache.flink.testutils.junit.extensions.parameterized.ParameterizedTestExtension;
import org.apache.flink.testutils.junit.extensions.parameterized.Parameters;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assumptions.assumeFalse;

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

    /**
     * With heap timers, incremental checkpoints leave timers to the timer service, which writes
     * them into raw keyed state with their own serializer snapshots (as Flink's RocksDB backend
     * does). A queue created directly on the backend, as this test does, is therefore not part of
     * an incremental checkpoint, and nothing is there to compare the new serializer against. The
     * timer service checks its serializers itself when it restores.
     */
    @BeforeEach
    void skipQueuesOutsideIncrementalCheckpoints(TestInfo test) {
        assumeFalse(
                incremental
                        && timers == PriorityQueueStateType.HEAP
                        && test.getTestMethod()
                                .map(Method::getName)
                                .filter(
                                        "testPriorityQueueStateCreationFailsIfNewSerializerIsNotCompatible"
                                                ::equals)
                                .isPresent(),
                "Heap timer queues are not part of incremental checkpoints (raw keyed state).");
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
