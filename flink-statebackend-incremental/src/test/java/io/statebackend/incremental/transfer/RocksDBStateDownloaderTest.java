package io.statebackend.incremental.transfer;

import io.statebackend.incremental.testutils.TestStreamFactories;
import io.statebackend.incremental.transfer.RocksDBStateUploader.FileUpload;

import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.state.CheckpointedStateScope;
import org.apache.flink.runtime.state.memory.ByteStreamStateHandle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.statebackend.incremental.transfer.RocksDBStateUploaderTest.crc32c;
import static io.statebackend.incremental.transfer.RocksDBStateUploaderTest.createFiles;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Tests for {@link RocksDBStateDownloader}. */
class RocksDBStateDownloaderTest {

    @TempDir Path tempDir;

    private final TransferThreadPool pool = new TransferThreadPool(3);

    @AfterEach
    void closePool() {
        pool.close();
    }

    @Test
    void downloadsAndVerifiesEveryFile() throws Exception {
        List<Path> local = createFiles(tempDir.resolve("local"), 8, 20_000);
        List<StateFile> uploaded = upload(local);

        Path target = tempDir.resolve("target");
        new RocksDBStateDownloader(pool.executor())
                .download(7L, uploaded, target, new CloseableRegistry());

        for (Path file : local) {
            assertThat(target.resolve(file.getFileName())).hasSameBinaryContentAs(file);
        }
        assertThat(TestStreamFactories.filesBelow(target)).hasSize(local.size());
    }

    @Test
    void corruptedFileFailsNamingFileAndCheckpoint() throws Exception {
        List<Path> local = createFiles(tempDir.resolve("local"), 4, 20_000);
        List<StateFile> uploaded = upload(local);
        // flip one byte of the third upload in storage
        StateFile victim = uploaded.get(2);
        Path stored =
                Path.of(
                        ((org.apache.flink.runtime.state.filesystem.FileStateHandle)
                                        victim.getHandle())
                                .getFilePath()
                                .toUri());
        byte[] bytes = Files.readAllBytes(stored);
        bytes[bytes.length / 2] ^= 0x10;
        Files.write(stored, bytes);

        Path target = tempDir.resolve("target");
        assertThatThrownBy(
                        () ->
                                new RocksDBStateDownloader(pool.executor())
                                        .download(42L, uploaded, target, new CloseableRegistry()))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("'" + victim.getName() + "'")
                .hasMessageContaining("checkpoint 42")
                .hasMessageContaining("corrupted");
        assertThat(target).doesNotExist();
    }

    @Test
    void truncatedFileFails() throws Exception {
        byte[] bytes = new byte[] {1, 2, 3, 4};
        StateFile file =
                new StateFile(
                        "000009.sst",
                        new ByteStreamStateHandle("h", new byte[] {1, 2, 3}),
                        bytes.length,
                        crc32c(bytes));
        Path target = tempDir.resolve("target");
        assertThatThrownBy(
                        () ->
                                new RocksDBStateDownloader(pool.executor())
                                        .download(
                                                3L, List.of(file), target, new CloseableRegistry()))
                .hasMessageContaining("'000009.sst' of checkpoint 3 is corrupted");
        assertThat(target).doesNotExist();
    }

    @ParameterizedTest
    @ValueSource(strings = {"../x", "/abs", "a/b", "..", ".", "", "a\\b", "x/../../y", "..sst"})
    void refusesNamesThatAreNotPlainFileNames(String name) throws Exception {
        byte[] bytes = new byte[] {1, 2, 3};
        List<StateFile> files = new ArrayList<>();
        files.add(
                new StateFile(
                        "000001.sst", new ByteStreamStateHandle("a", bytes), 3, crc32c(bytes)));
        files.add(new StateFile(name, new ByteStreamStateHandle("b", bytes), 3, crc32c(bytes)));
        Path parent = Files.createDirectories(tempDir.resolve("instance"));
        Path target = parent.resolve("target");

        assertThatThrownBy(
                        () ->
                                new RocksDBStateDownloader(pool.executor())
                                        .download(5L, files, target, new CloseableRegistry()))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("Checkpoint 5")
                .hasMessageContaining("'" + name + "'");
        // nothing was written at all, inside or outside the target
        assertThat(TestStreamFactories.filesBelow(tempDir)).isEmpty();
    }

    @Test
    void refusesDuplicateNames() throws Exception {
        byte[] bytes = new byte[] {1};
        StateFile file =
                new StateFile(
                        "000001.sst", new ByteStreamStateHandle("a", bytes), 1, crc32c(bytes));
        assertThatThrownBy(
                        () ->
                                new RocksDBStateDownloader(pool.executor())
                                        .download(
                                                5L,
                                                List.of(file, file),
                                                tempDir.resolve("t"),
                                                new CloseableRegistry()))
                .hasMessageContaining("twice");
    }

    private List<StateFile> upload(List<Path> local) throws Exception {
        List<FileUpload> uploads = new ArrayList<>();
        for (Path file : local) {
            uploads.add(new FileUpload(file, CheckpointedStateScope.SHARED));
        }
        return new RocksDBStateUploader(pool.executor())
                .upload(
                        uploads,
                        TestStreamFactories.files(tempDir.resolve("storage")),
                        new CloseableRegistry());
    }
}
