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

    @Test
    void downloadsSeveralCheckpointsAtOnceAndCleansUpAllOnFailure() throws Exception {
        List<StateFile> first = upload(createFiles(tempDir.resolve("a"), 5, 30_000));
        List<StateFile> second = upload(createFiles(tempDir.resolve("b"), 5, 30_000));
        RocksDBStateDownloader downloader = new RocksDBStateDownloader(pool.executor());
        Path one = tempDir.resolve("one");
        Path two = tempDir.resolve("two");
        downloader.downloadAll(
                List.of(
                        new RocksDBStateDownloader.Download(1L, first, one),
                        new RocksDBStateDownloader.Download(2L, second, two)),
                new CloseableRegistry());
        assertThat(TestStreamFactories.filesBelow(one)).hasSize(5);
        assertThat(TestStreamFactories.filesBelow(two)).hasSize(5);

        // a wrong size in the second checkpoint: neither directory stays
        List<StateFile> broken = new ArrayList<>(second);
        StateFile victim = broken.remove(0);
        broken.add(
                new StateFile(
                        victim.getName(),
                        victim.getHandle(),
                        victim.getSize() + 1,
                        victim.getChecksum()));
        Path three = tempDir.resolve("three");
        Path four = tempDir.resolve("four");
        assertThatThrownBy(
                        () ->
                                downloader.downloadAll(
                                        List.of(
                                                new RocksDBStateDownloader.Download(
                                                        1L, first, three),
                                                new RocksDBStateDownloader.Download(
                                                        2L, broken, four)),
                                        new CloseableRegistry()))
                .hasMessageContaining("checkpoint 2")
                .hasMessageContaining("corrupted");
        assertThat(three).doesNotExist();
        assertThat(four).doesNotExist();
    }

    @Test
    void localCopyChecksSizesAlwaysAndChecksumsOnRequest() throws Exception {
        List<Path> local = createFiles(tempDir.resolve("copy"), 3, 20_000);
        List<StateFile> files = new ArrayList<>();
        for (Path file : local) {
            byte[] bytes = Files.readAllBytes(file);
            files.add(
                    new StateFile(
                            file.getFileName().toString(),
                            new org.apache.flink.runtime.state.filesystem.FileStateHandle(
                                    new org.apache.flink.core.fs.Path(file.toUri()), bytes.length),
                            bytes.length,
                            crc32c(bytes)));
        }
        // same size, other bytes
        byte[] bytes = Files.readAllBytes(local.get(1));
        bytes[bytes.length / 2] ^= 0x10;
        Files.write(local.get(1), bytes);
        RocksDBStateDownloader downloader = new RocksDBStateDownloader(pool.executor());

        Path linked = tempDir.resolve("linked");
        downloader.placeLocalCopy(3L, files, linked, new CloseableRegistry(), false);
        assertThat(TestStreamFactories.filesBelow(linked)).hasSize(3);

        Path verified = tempDir.resolve("verified");
        assertThatThrownBy(
                        () ->
                                downloader.placeLocalCopy(
                                        3L, files, verified, new CloseableRegistry(), true))
                .hasMessageContaining("corrupted");
        assertThat(verified).doesNotExist();

        // a truncated file fails either way
        Files.write(local.get(2), java.util.Arrays.copyOf(Files.readAllBytes(local.get(2)), 10));
        Path truncated = tempDir.resolve("truncated");
        assertThatThrownBy(
                        () ->
                                downloader.placeLocalCopy(
                                        3L, files, truncated, new CloseableRegistry(), false))
                .hasMessageContaining("corrupted");
        assertThat(truncated).doesNotExist();
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
