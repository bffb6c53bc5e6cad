package io.statebackend.incremental.transfer;

import io.statebackend.incremental.rocksdb.SharedDbFiles;

import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;
import org.apache.flink.util.ExceptionUtils;
import org.apache.flink.util.FileUtils;
import org.apache.flink.util.IOUtils;
import org.apache.flink.util.Preconditions;

import javax.annotation.Nullable;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.zip.CRC32C;

/**
 * Downloads the files of a checkpoint into a new local directory in parallel, verifying each file's
 * size and CRC32C against what the checkpoint recorded; places the files of a local copy of a
 * checkpoint (local recovery) the same way, by hard link or copy.
 *
 * <p>Every file name comes from a state handle, that is from outside: names are checked before
 * anything is written, so that no file lands outside the target directory. On any failure the
 * target directory is deleted, nothing half-downloaded stays behind.
 *
 * <p>A download from checkpoint storage that fails, also one whose bytes do not match (a read cut
 * short), is tried again as the {@link TransferRetryPolicy} says, from the start of the file. Local
 * copies are placed without retries: their failures are not transient.
 */
public final class RocksDBStateDownloader {

    private static final int BUFFER_SIZE = 64 * 1024;

    private final ExecutorService executor;
    private final TransferRetryPolicy retryPolicy;

    /** A downloader that does not retry: a failed file fails the download. */
    public RocksDBStateDownloader(ExecutorService executor) {
        this(executor, TransferRetryPolicy.NONE);
    }

    public RocksDBStateDownloader(ExecutorService executor, TransferRetryPolicy retryPolicy) {
        this.executor = Preconditions.checkNotNull(executor);
        this.retryPolicy = Preconditions.checkNotNull(retryPolicy);
    }

    /** The files of one checkpoint and the new directory they go to. */
    public static final class Download {
        private final long checkpointId;
        private final Collection<StateFile> files;
        private final Path targetDirectory;

        public Download(long checkpointId, Collection<StateFile> files, Path targetDirectory) {
            this.checkpointId = checkpointId;
            this.files = Preconditions.checkNotNull(files);
            this.targetDirectory = Preconditions.checkNotNull(targetDirectory);
        }

        public Path getTargetDirectory() {
            return targetDirectory;
        }
    }

    /**
     * Downloads {@code files} into {@code targetDirectory}, which must not exist yet.
     *
     * @param checkpointId the checkpoint the files belong to, named in error messages
     * @throws IOException naming the file and the checkpoint if a name is not a plain file name, a
     *     file cannot be read, or its bytes differ from what the checkpoint recorded
     */
    public void download(
            long checkpointId,
            Collection<StateFile> files,
            Path targetDirectory,
            CloseableRegistry closeableRegistry)
            throws Exception {
        downloadAll(
                Collections.singletonList(new Download(checkpointId, files, targetDirectory)),
                closeableRegistry);
    }

    /**
     * Downloads the files of several checkpoints at once, each into its own new directory, so that
     * all transfer threads stay busy until the last byte: the largest files go first. On failure
     * every target directory is deleted.
     */
    public void downloadAll(List<Download> downloads, CloseableRegistry closeableRegistry)
            throws Exception {
        transferAll(downloads, closeableRegistry, this::downloadWithRetries);
    }

    /**
     * Places the files of a local copy of a checkpoint (local recovery) into {@code
     * targetDirectory}, which must not exist yet: SST files, which RocksDB never modifies, are
     * hard-linked (copied where the file system cannot link), every other file is copied, because
     * RocksDB may append to it, and verified on the way. The size of every file is checked; the
     * full checksum of a linked SST file is computed only if {@code verifySstChecksums}, because
     * reading every byte of a large local state is what local recovery exists to avoid.
     *
     * @param files the files, each with a handle to its local copy
     */
    public void placeLocalCopy(
            long checkpointId,
            Collection<StateFile> files,
            Path targetDirectory,
            CloseableRegistry closeableRegistry,
            boolean verifySstChecksums)
            throws Exception {
        transferAll(
                Collections.singletonList(new Download(checkpointId, files, targetDirectory)),
                closeableRegistry,
                verifySstChecksums ? LOCAL_VERIFIED : LOCAL_SIZE_CHECKED);
    }

    /** Moves one file into the target directory. */
    @FunctionalInterface
    private interface FileTransfer {
        void transfer(
                long checkpointId,
                StateFile file,
                Path targetDirectory,
                CloseableRegistry closeableRegistry,
                TransferCancellation cancelled)
                throws Exception;
    }

    private static final FileTransfer LOCAL_VERIFIED =
            (checkpointId, file, targetDirectory, closeableRegistry, cancelled) ->
                    placeLocalFile(
                            checkpointId,
                            file,
                            targetDirectory,
                            closeableRegistry,
                            cancelled,
                            true);

    private static final FileTransfer LOCAL_SIZE_CHECKED =
            (checkpointId, file, targetDirectory, closeableRegistry, cancelled) ->
                    placeLocalFile(
                            checkpointId,
                            file,
                            targetDirectory,
                            closeableRegistry,
                            cancelled,
                            false);

    private void transferAll(
            List<Download> downloads, CloseableRegistry closeableRegistry, FileTransfer transfer)
            throws Exception {
        for (Download download : downloads) {
            Set<String> names = new HashSet<>();
            for (StateFile file : download.files) {
                checkFileName(file.getName(), download.checkpointId);
                if (!names.add(file.getName())) {
                    throw new IOException(
                            "Checkpoint "
                                    + download.checkpointId
                                    + " lists the file '"
                                    + file.getName()
                                    + "' twice.");
                }
            }
        }

        final List<Path> created = new ArrayList<>(downloads.size());
        try {
            for (Download download : downloads) {
                Files.createDirectory(download.targetDirectory);
                created.add(download.targetDirectory);
            }
            transferLargestFirst(downloads, closeableRegistry, transfer);
        } catch (Throwable t) {
            for (Path directory : created) {
                try {
                    FileUtils.deleteDirectory(directory.toFile());
                } catch (IOException e) {
                    t.addSuppressed(e);
                }
            }
            throw t;
        }
    }

    /** One file of one download, for ordering all files of all downloads by size. */
    private static final class Task {
        final Download download;
        final StateFile file;

        Task(Download download, StateFile file) {
            this.download = download;
            this.file = file;
        }
    }

    private void transferLargestFirst(
            List<Download> downloads, CloseableRegistry closeableRegistry, FileTransfer transfer)
            throws Exception {
        final List<Task> tasks = new ArrayList<>();
        for (Download download : downloads) {
            for (StateFile file : download.files) {
                tasks.add(new Task(download, file));
            }
        }
        // the pool's queue is FIFO: largest first keeps every thread busy until the end
        tasks.sort(Comparator.comparingLong((Task task) -> task.file.getSize()).reversed());

        final TransferCancellation cancelled =
                TransferCancellation.registeredWith(closeableRegistry);
        try {
            transferTasks(tasks, closeableRegistry, transfer, cancelled);
        } finally {
            cancelled.unregister();
        }
    }

    private void transferTasks(
            List<Task> tasks,
            CloseableRegistry closeableRegistry,
            FileTransfer transfer,
            TransferCancellation cancelled)
            throws Exception {
        final List<Future<Void>> futures = new ArrayList<>(tasks.size());
        Throwable failure = null;
        try {
            for (Task task : tasks) {
                futures.add(
                        executor.<Void>submit(
                                () -> {
                                    try {
                                        transfer.transfer(
                                                task.download.checkpointId,
                                                task.file,
                                                task.download.targetDirectory,
                                                closeableRegistry,
                                                cancelled);
                                    } catch (Throwable t) {
                                        // failed for good: the other transfers stop
                                        cancelled.cancel();
                                        throw t;
                                    }
                                    return null;
                                }));
            }
        } catch (RejectedExecutionException e) {
            cancelled.cancel();
            failure =
                    new IOException("The transfer threads are closed; the backend is closing.", e);
        }

        failure =
                TransferFutures.awaitAll(
                        futures,
                        new ArrayList<>(),
                        cancelled,
                        failure,
                        "The download of checkpoint "
                                + tasks.get(0).download.checkpointId
                                + " was interrupted.");
        if (failure != null) {
            ExceptionUtils.rethrowException(failure);
        }
    }

    /** Downloads from checkpoint storage, whose failures may be transient, with retries. */
    private void downloadWithRetries(
            long checkpointId,
            StateFile file,
            Path targetDirectory,
            CloseableRegistry closeableRegistry,
            TransferCancellation cancelled)
            throws Exception {
        retryPolicy.call(
                "download file '" + file.getName() + "' of checkpoint " + checkpointId,
                () -> {
                    downloadAttempt(
                            checkpointId, file, targetDirectory, closeableRegistry, cancelled);
                    return null;
                },
                cancelled);
    }

    /**
     * One attempt at a download: a failed one deletes what it wrote, for the next to start over.
     */
    private static void downloadAttempt(
            long checkpointId,
            StateFile file,
            Path targetDirectory,
            CloseableRegistry closeableRegistry,
            TransferCancellation cancelled)
            throws IOException {
        try {
            downloadFile(checkpointId, file, targetDirectory, closeableRegistry, cancelled);
        } catch (Throwable t) {
            try {
                Files.deleteIfExists(targetDirectory.resolve(file.getName()));
            } catch (IOException e) {
                t.addSuppressed(e);
            }
            throw t;
        }
    }

    private static void downloadFile(
            long checkpointId,
            StateFile file,
            Path targetDirectory,
            CloseableRegistry closeableRegistry,
            TransferCancellation cancelled)
            throws IOException {
        if (cancelled.isCancelled()) {
            throw new CancellationException("Download of " + file.getName() + " skipped.");
        }
        final Path target = targetDirectory.resolve(file.getName());
        final CRC32C checksum = new CRC32C();
        long size = 0;
        FSDataInputStream in = null;
        OutputStream out = null;
        try {
            in = file.getHandle().openInputStream();
            closeableRegistry.registerCloseable(in);
            try {
                out =
                        Files.newOutputStream(
                                target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            } catch (IOException e) {
                throw LocalFileFailure.writing(target, e);
            }
            closeableRegistry.registerCloseable(out);

            size =
                    copyWithChecksum(
                            in,
                            out,
                            target,
                            checksum,
                            cancelled,
                            "Download of "
                                    + file.getName()
                                    + " stopped: the download was cancelled.");
            // a file system may report a failed write only when the file is closed
            closeableRegistry.unregisterCloseable(out);
            final OutputStream written = out;
            out = null;
            try {
                written.close();
            } catch (IOException e) {
                throw LocalFileFailure.writing(target, e);
            }
        } catch (CancellationException e) {
            throw e;
        } catch (Exception t) {
            throw new IOException(
                    String.format(
                            "Could not download file '%s' of checkpoint %d from %s: %s",
                            file.getName(), checkpointId, file.getHandle(), t.getMessage()),
                    t);
        } finally {
            if (out != null) {
                closeableRegistry.unregisterCloseable(out);
                IOUtils.closeQuietly(out);
            }
            if (in != null) {
                closeableRegistry.unregisterCloseable(in);
                IOUtils.closeQuietly(in);
            }
        }

        verify(checkpointId, file, size, (int) checksum.getValue());
    }

    /** Links or copies one file of a local copy and verifies it. */
    private static void placeLocalFile(
            long checkpointId,
            StateFile file,
            Path targetDirectory,
            CloseableRegistry closeableRegistry,
            TransferCancellation cancelled,
            boolean verifyChecksum)
            throws IOException {
        if (!SharedDbFiles.isShareable(file.getName())) {
            // copied with the checksum computed on the way, like a download
            downloadFile(checkpointId, file, targetDirectory, closeableRegistry, cancelled);
            return;
        }
        if (cancelled.isCancelled()) {
            throw new CancellationException("Restore of " + file.getName() + " skipped.");
        }
        Preconditions.checkArgument(
                file.getHandle() instanceof FileStateHandle,
                "A local copy is made of local files, not of %s.",
                file.getHandle());
        final Path source = Paths.get(((FileStateHandle) file.getHandle()).getFilePath().toUri());
        final Path target = targetDirectory.resolve(file.getName());
        final CRC32C checksum = new CRC32C();
        long size = 0;
        try {
            try {
                Files.createLink(target, source);
            } catch (UnsupportedOperationException | IOException linkFailure) {
                if (Files.exists(target) || !Files.exists(source)) {
                    throw linkFailure;
                }
                // another file system, or one without hard links
                Files.copy(source, target);
            }
            if (!verifyChecksum) {
                size = Files.size(target);
                if (size != file.getSize()) {
                    verify(checkpointId, file, size, file.getChecksum());
                }
                return;
            }
            try (InputStream in = Files.newInputStream(target)) {
                size =
                        copyWithChecksum(
                                in,
                                null,
                                null,
                                checksum,
                                cancelled,
                                "Restore of " + file.getName() + " stopped: another file failed.");
            }
        } catch (CancellationException e) {
            throw e;
        } catch (Exception t) {
            throw new IOException(
                    String.format(
                            "Could not restore file '%s' of checkpoint %d from its local copy %s:"
                                    + " %s",
                            file.getName(), checkpointId, source, t),
                    t);
        }
        verify(checkpointId, file, size, (int) checksum.getValue());
    }

    /**
     * Reads {@code in} to its end into {@code checksum} and, if given, {@code out}; stops when
     * another transfer failed.
     *
     * @return the number of bytes read
     */
    private static long copyWithChecksum(
            InputStream in,
            @Nullable OutputStream out,
            @Nullable Path target,
            CRC32C checksum,
            TransferCancellation cancelled,
            String stoppedMessage)
            throws IOException {
        final byte[] buffer = new byte[BUFFER_SIZE];
        long size = 0;
        int read;
        while ((read = in.read(buffer)) != -1) {
            if (cancelled.isCancelled()) {
                throw new CancellationException(stoppedMessage);
            }
            checksum.update(buffer, 0, read);
            if (out != null) {
                try {
                    out.write(buffer, 0, read);
                } catch (IOException e) {
                    throw LocalFileFailure.writing(target, e);
                }
            }
            size += read;
        }
        return size;
    }

    private static void verify(long checkpointId, StateFile file, long size, int checksum)
            throws IOException {
        if (size != file.getSize() || checksum != file.getChecksum()) {
            throw new IOException(
                    String.format(
                            "File '%s' of checkpoint %d is corrupted: it has %d bytes with CRC32C"
                                    + " %08x, but the checkpoint recorded %d bytes with CRC32C"
                                    + " %08x (%s).",
                            file.getName(),
                            checkpointId,
                            size,
                            checksum,
                            file.getSize(),
                            file.getChecksum(),
                            file.getHandle()));
        }
    }

    /**
     * Checks that a name taken from a state handle is a plain file name, so that resolving it
     * against a directory stays in that directory.
     *
     * @throws IOException naming the file and the checkpoint otherwise
     */
    public static void checkFileName(@Nullable String name, long checkpointId) throws IOException {
        String problem = null;
        if (name == null || name.isEmpty()) {
            problem = "it is empty";
        } else if (name.indexOf('/') >= 0 || name.indexOf('\\') >= 0) {
            problem = "it contains a path separator";
        } else if (name.contains("..") || name.equals(".")) {
            problem = "it refers to a directory";
        } else if (name.indexOf('\0') >= 0 || name.indexOf(':') >= 0) {
            problem = "it contains a character not allowed in file names";
        } else if (Paths.get(name).isAbsolute() || Paths.get(name).getNameCount() != 1) {
            problem = "it is not a plain file name";
        }
        if (problem != null) {
            throw new IOException(
                    String.format(
                            "Checkpoint %d refers to the file '%s', which cannot be restored: %s."
                                    + " Only plain file names are accepted.",
                            checkpointId, name, problem));
        }
    }
}
