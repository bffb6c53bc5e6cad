package io.statebackend.incremental.suites;

import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;

import org.apache.flink.runtime.state.CheckpointStorage;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.storage.FileSystemCheckpointStorage;
import org.apache.flink.runtime.state.ttl.StateBackendTestContext;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;

import java.io.File;
import java.nio.file.Files;

/** Gives Flink's TTL suite a fresh backend and checkpoint storage in temporary directories. */
final class TtlSuiteBackendContext extends StateBackendTestContext {

    private final boolean incremental;

    /**
     * Created on first use: the base class asks for the checkpoint storage in its constructor,
     * before this class's fields are assigned.
     */
    private File root;

    TtlSuiteBackendContext(TtlTimeProvider timeProvider, boolean incremental) {
        super(timeProvider);
        this.incremental = incremental;
    }

    private File root() {
        if (root == null) {
            try {
                root = Files.createTempDirectory("ttl-suite").toFile();
                root.deleteOnExit();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        return root;
    }

    @Override
    protected StateBackend createStateBackend() {
        return SuiteConfigurations.backend(
                PriorityQueueStateType.ROCKSDB,
                incremental,
                new File(root(), "rocksdb").getAbsolutePath());
    }

    @Override
    protected CheckpointStorage createCheckpointStorage() {
        return new FileSystemCheckpointStorage(new File(root(), "checkpoints").toURI());
    }
}
