package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.rocksdb.SharedDbFiles;
import io.statebackend.incremental.transfer.RocksDBStateUploader;
import io.statebackend.incremental.transfer.RocksDBStateUploader.FileUpload;
import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.annotation.VisibleForTesting;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CheckpointedStateScope;
import org.apache.flink.runtime.state.filesystem.FsCheckpointStorageLocation;
import org.apache.flink.runtime.state.filesystem.FsCheckpointStreamFactory;
import org.apache.flink.util.ExecutorUtils;
import org.apache.flink.util.FileUtils;
import org.apache.flink.util.IOUtils;
import org.apache.flink.util.Preconditions;
import org.apache.flink.util.concurrent.ExecutorThreadFactory;

import org.rocksdb.AbstractEventListener;
import org.rocksdb.AbstractEventListener.EnabledEventCallback;
import org.rocksdb.CompactionJobInfo;
import org.rocksdb.FlushJobInfo;
import org.rocksdb.RocksDB;
import org.rocksdb.Status;
import org.rocksdb.TableFileCreationInfo;
import org.rocksdb.TableFileDeletionInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.annotation.Nullable;
import javax.annotation.concurrent.GuardedBy;
import javax.annotation.concurrent.ThreadSafe;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * Uploads the SST and blob files RocksDB writes between checkpoints as soon as they are written, so
 * that a checkpoint finds a compaction's output already in checkpoint storage instead of uploading
 * it within its own duration.
 *
 * <p>RocksDB reports every table file it creates and deletes to {@link #eventListener()}; blob
 * files are found in the database directory after every flush and compaction ({@link
 * BlobFilesInDirectory}), and a blob file gone from it by then counts as deleted. A created file is
 * hard-linked into a staging directory (RocksDB may delete its own name at any time) and uploaded
 * as shared state by one background thread, into the storage of the latest checkpoint. Until a
 * checkpoint takes an upload over, the upload belongs to this class:
 *
 * <ul>
 *   <li>A checkpoint that needs the file calls {@link #takeOver}: an upload that has started is
 *       handed to the checkpoint, which waits for it and then owns its handle like one of its own
 *       uploads (registered with the JobManager if the checkpoint completes, discarded by the
 *       JobManager if it is aborted); one still queued is dropped and the checkpoint uploads the
 *       file itself. An upload is taken over at most once: a later checkpoint that needs the file
 *       while the first is unconfirmed uploads it again, as it would without this class.
 *   <li>A file that RocksDB deletes before any checkpoint took its upload over was compacted away:
 *       its upload is discarded (once it is done, if it is running).
 *   <li>{@link #close()} stops the running upload and discards every upload not taken over.
 * </ul>
 *
 * <p>A failed upload costs nothing but the checkpoint's own upload of the file. A process that dies
 * leaves the uploads not taken over in the shared directory, as it leaves any unfinished upload.
 *
 * <p>Only checkpoint storage on a file system without file merging is used: its shared directory is
 * the same for every checkpoint of the job, so an upload into the latest checkpoint's storage is
 * valid for the next one. Nothing is uploaded before the first checkpoint, nor for savepoints.
 */
@ThreadSafe
public final class SstUploadAhead implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(SstUploadAhead.class);

    /** Sub-directory of the backend's instance directory that holds the staged hard links. */
    public static final String STAGING_DIRECTORY = "upload-ahead";

    private final File stagingDirectory;
    private final RocksDBStateUploader uploader;
    private final ExecutorService executor;
    private final Predicate<CheckpointStreamFactory> usableStorage;
    @Nullable private final BlobFilesInDirectory blobFiles;

    /** Closed by {@link #close()}: stops a running upload, whose partial file is deleted. */
    private final CloseableRegistry uploadStreams = new CloseableRegistry();

    private final Object lock = new Object();

    /** The uploads not taken over yet, by SST file name. */
    @GuardedBy("lock")
    private final Map<String, AheadUpload> uploads = new HashMap<>();

    @GuardedBy("lock")
    @Nullable
    private CheckpointStreamFactory storage;

    @GuardedBy("lock")
    private boolean closed;

    private final AtomicLong uploadedBytes = new AtomicLong();
    private final AtomicLong takenOverBytes = new AtomicLong();
    private final AtomicLong discardedBytes = new AtomicLong();

    private final Events events;

    static {
        // the listener is a native object, created before any database of the backend
        RocksDB.loadLibrary();
    }

    /**
     * @param instanceDirectory the backend's directory, on the same file system as the database
     * @param blobFileDirectory the database's directory if RocksDB writes blob files into it, to be
     *     looked into after flushes and compactions; null if it writes none
     * @param uploader uploads one file at a time on the calling thread
     */
    public SstUploadAhead(
            File instanceDirectory, @Nullable File blobFileDirectory, RocksDBStateUploader uploader)
            throws IOException {
        this(instanceDirectory, blobFileDirectory, uploader, SstUploadAhead::isUsable);
    }

    @VisibleForTesting
    SstUploadAhead(
            File instanceDirectory,
            @Nullable File blobFileDirectory,
            RocksDBStateUploader uploader,
            Predicate<CheckpointStreamFactory> usableStorage)
            throws IOException {
        this.stagingDirectory = new File(instanceDirectory, STAGING_DIRECTORY);
        this.blobFiles =
                blobFileDirectory == null
                        ? null
                        : new BlobFilesInDirectory(blobFileDirectory.toPath());
        this.uploader = Preconditions.checkNotNull(uploader);
        this.usableStorage = Preconditions.checkNotNull(usableStorage);
        Files.createDirectories(stagingDirectory.toPath());
        this.events = new Events(blobFiles != null);
        this.executor =
                Executors.newSingleThreadExecutor(
                        new ExecutorThreadFactory("incremental-rocksdb-upload-ahead"));
    }

    /** The listener to register with the database's options before it opens. */
    public AbstractEventListener eventListener() {
        return events;
    }

    /**
     * Called by every checkpoint (not savepoint) with the storage it uploads to: later files are
     * uploaded there. Storage this class cannot use stops uploading ahead.
     */
    public void useStorage(CheckpointStreamFactory checkpointStorage) {
        final boolean usable = usableStorage.test(checkpointStorage);
        if (blobFiles != null) {
            try {
                // the blob files there are now are the checkpoint's to upload
                blobFiles.markPresentAsKnown();
            } catch (IOException e) {
                LOG.debug("Could not list the blob files of the database.", e);
            }
        }
        synchronized (lock) {
            if (!closed) {
                storage = usable ? checkpointStorage : null;
            }
        }
    }

    /** A file system location without file merging, whose shared directory is the job's. */
    static boolean isUsable(CheckpointStreamFactory checkpointStorage) {
        return checkpointStorage.getClass() == FsCheckpointStorageLocation.class
                || checkpointStorage.getClass() == FsCheckpointStreamFactory.class;
    }

    /**
     * Hands the upload of an SST file to the checkpoint that needs it.
     *
     * @param size the size of the checkpoint's copy of the file
     * @return the upload, running or done, which the caller now owns (it must use or discard the
     *     handle once the future completes); null if the caller must upload the file itself
     */
    @Nullable
    public CompletableFuture<StateFile> takeOver(String fileName, long size) {
        final AheadUpload upload = removeStarted(fileName);
        if (upload == null) {
            return null;
        }
        if (upload.size != size) {
            // cannot happen for the same database; never hand over other bytes
            discardWhenDone(upload);
            return null;
        }
        upload.result.thenAccept(file -> takenOverBytes.addAndGet(file.getSize()));
        return upload.result;
    }

    /** Bytes uploaded ahead so far, whether taken over or discarded later. */
    public long getUploadedBytes() {
        return uploadedBytes.get();
    }

    /** Bytes of uploads taken over by checkpoints. */
    public long getTakenOverBytes() {
        return takenOverBytes.get();
    }

    /** Bytes of uploads discarded because their file was deleted first, or on close. */
    public long getDiscardedBytes() {
        return discardedBytes.get();
    }

    /** The upload of the file if it was not taken over yet, for tests; it stays here. */
    @VisibleForTesting
    @Nullable
    CompletableFuture<StateFile> uploadOf(String fileName) {
        synchronized (lock) {
            AheadUpload upload = uploads.get(fileName);
            return upload == null ? null : upload.result;
        }
    }

    /** The uploads not taken over yet, for tests. */
    @VisibleForTesting
    public int pendingUploads() {
        synchronized (lock) {
            return uploads.size();
        }
    }

    /**
     * Stops uploading and discards every upload not taken over. Called after the database is
     * closed, as RocksDB calls the listener until then.
     */
    @Override
    public void close() {
        final List<AheadUpload> left;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            storage = null;
            left = new ArrayList<>(uploads.values());
            uploads.clear();
            for (AheadUpload upload : left) {
                upload.dropped = true;
            }
        }
        IOUtils.closeQuietly(uploadStreams);
        ExecutorUtils.gracefulShutdown(1, TimeUnit.SECONDS, executor);
        for (AheadUpload upload : left) {
            discardWhenDone(upload);
        }
        FileUtils.deleteDirectoryQuietly(stagingDirectory);
        // the database is closed by now: RocksDB no longer calls the listener
        events.close();
    }

    // ------------------------------------------------------------------------

    @VisibleForTesting
    void fileCreated(String filePath, long size) {
        final Path source = Paths.get(filePath);
        final String name = source.getFileName().toString();
        if (!SharedDbFiles.isShareable(name) || size <= 0) {
            return;
        }
        synchronized (lock) {
            if (closed || storage == null || uploads.containsKey(name)) {
                return;
            }
        }
        final Path link = stagingDirectory.toPath().resolve(name);
        try {
            Files.deleteIfExists(link);
            Files.createLink(link, source);
        } catch (IOException e) {
            // compacted away already, or the backend is closing
            LOG.debug("Could not stage {} for its upload ahead of the checkpoint.", filePath, e);
            return;
        }
        final AheadUpload upload = new AheadUpload(name, link, size);
        synchronized (lock) {
            if (closed || storage == null || uploads.containsKey(name)) {
                deleteQuietly(link);
                return;
            }
            upload.storage = storage;
            uploads.put(name, upload);
        }
        try {
            executor.execute(() -> run(upload));
        } catch (RejectedExecutionException closing) {
            synchronized (lock) {
                uploads.remove(name);
            }
            deleteQuietly(link);
        }
    }

    @VisibleForTesting
    void fileDeleted(String filePath) {
        final AheadUpload upload = removeStarted(Paths.get(filePath).getFileName().toString());
        if (upload != null) {
            discardWhenDone(upload);
        }
    }

    /**
     * Starts the uploads of blob files RocksDB finished and discards those of blob files it
     * deleted, which its event listener does not report.
     */
    @VisibleForTesting
    void lookForBlobFiles() throws IOException {
        if (blobFiles == null) {
            return;
        }
        final List<String> pendingBlobFiles = new ArrayList<>();
        synchronized (lock) {
            if (closed) {
                return;
            }
            for (String name : uploads.keySet()) {
                if (SharedDbFiles.isBlobFile(name)) {
                    pendingBlobFiles.add(name);
                }
            }
        }
        for (String name : pendingBlobFiles) {
            if (!blobFiles.contains(name)) {
                fileDeleted(name);
            }
        }
        for (Path file : blobFiles.newFinishedFiles()) {
            final long size;
            try {
                size = Files.size(file);
            } catch (IOException e) {
                // deleted since it was listed
                continue;
            }
            fileCreated(file.toString(), size);
        }
    }

    /**
     * Removes the upload of the file: one that has started is returned to the caller, who owns it
     * now; one still queued is dropped (it will not run) and null returned, as for no upload.
     */
    @Nullable
    private AheadUpload removeStarted(String fileName) {
        synchronized (lock) {
            final AheadUpload upload = uploads.remove(fileName);
            if (upload == null || upload.started) {
                return upload;
            }
            upload.dropped = true;
            return null;
        }
    }

    private void run(AheadUpload upload) {
        synchronized (lock) {
            if (upload.dropped) {
                deleteQuietly(upload.link);
                return;
            }
            upload.started = true;
        }
        try {
            final StateFile file =
                    uploader.uploadFile(
                            new FileUpload(upload.link, CheckpointedStateScope.SHARED),
                            upload.storage,
                            uploadStreams);
            uploadedBytes.addAndGet(file.getSize());
            upload.result.complete(file);
        } catch (Throwable t) {
            LOG.debug(
                    "The upload of {} ahead of the checkpoint failed; a checkpoint that needs the"
                            + " file uploads it.",
                    upload.name,
                    t);
            upload.result.completeExceptionally(t);
        } finally {
            deleteQuietly(upload.link);
        }
    }

    private void discardWhenDone(AheadUpload upload) {
        upload.result.thenAccept(
                file -> {
                    if (RocksDBStateUploader.discardQuietly(file)) {
                        discardedBytes.addAndGet(file.getSize());
                    }
                });
    }

    private static void deleteQuietly(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.debug("Could not delete the staged file {}.", path, e);
        }
    }

    /** One file's upload ahead of the checkpoint; the flags are guarded by the class's lock. */
    private static final class AheadUpload {
        final String name;
        final Path link;
        final long size;
        final CompletableFuture<StateFile> result = new CompletableFuture<>();
        CheckpointStreamFactory storage;
        boolean started;
        boolean dropped;

        AheadUpload(String name, Path link, long size) {
            this.name = name;
            this.link = link;
            this.size = size;
        }
    }

    /**
     * The table file events, and with blob files the ends of flushes and compactions, after which
     * the directory is looked into: the listener does not report blob files.
     */
    private static EnabledEventCallback[] callbacks(boolean blobFiles) {
        final List<EnabledEventCallback> callbacks = new ArrayList<>();
        callbacks.add(EnabledEventCallback.ON_TABLE_FILE_CREATED);
        callbacks.add(EnabledEventCallback.ON_TABLE_FILE_DELETED);
        if (blobFiles) {
            callbacks.add(EnabledEventCallback.ON_FLUSH_COMPLETED);
            callbacks.add(EnabledEventCallback.ON_COMPACTION_COMPLETED);
        }
        return callbacks.toArray(new EnabledEventCallback[0]);
    }

    /** RocksDB's callbacks, on its background threads; they never throw into RocksDB. */
    private final class Events extends AbstractEventListener {

        Events(boolean blobFiles) {
            super(callbacks(blobFiles));
        }

        @Override
        public void onFlushCompleted(RocksDB db, FlushJobInfo info) {
            blobFilesChanged();
        }

        @Override
        public void onCompactionCompleted(RocksDB db, CompactionJobInfo info) {
            blobFilesChanged();
        }

        private void blobFilesChanged() {
            try {
                lookForBlobFiles();
            } catch (Throwable t) {
                LOG.warn("Could not look for blob files to upload ahead.", t);
            }
        }

        @Override
        public void onTableFileCreated(TableFileCreationInfo info) {
            try {
                if (info.getStatus() == null || info.getStatus().getCode() == Status.Code.Ok) {
                    fileCreated(info.getFilePath(), info.getFileSize());
                }
            } catch (Throwable t) {
                LOG.warn("Could not start the upload of {} ahead.", info.getFilePath(), t);
            }
        }

        @Override
        public void onTableFileDeleted(TableFileDeletionInfo info) {
            try {
                fileDeleted(info.getFilePath());
            } catch (Throwable t) {
                LOG.warn("Could not handle the deletion of {}.", info.getFilePath(), t);
            }
        }
    }
}
