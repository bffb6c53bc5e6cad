package io.statebackend.incremental.transfer;

import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.state.CheckpointStateOutputStream;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CheckpointedStateScope;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.memory.ByteStreamStateHandle;
import org.apache.flink.util.ExceptionUtils;
import org.apache.flink.util.IOUtils;
import org.apache.flink.util.Preconditions;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.annotation.Nullable;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * Uploads local files to checkpoint storage in parallel, computing each file's CRC32C on the way.
 * Each local file first passes the uploader's {@link UploadCheck}.
 *
 * <p>A failed upload of a file is tried again as the {@link TransferRetryPolicy} says, each failed
 * attempt's partial object deleted first; only a file that exhausts its attempts fails the upload.
 *
 * <p>All or nothing: when one file fails for good or the uploads are cancelled (the given registry
 * is closed, or the calling thread interrupted), the uploads not yet started are skipped, the
 * running ones are stopped (closing a stream deletes what it wrote), every handle already produced
 * is discarded, and only then the failure is rethrown. No upload is still running when this
 * returns.
 */
public final class RocksDBStateUploader {

    private static final Logger LOG = LoggerFactory.getLogger(RocksDBStateUploader.class);

    private static final int BUFFER_SIZE = 64 * 1024;

    private final ExecutorService executor;
    private final TransferRetryPolicy retryPolicy;
    private final UploadCheck uploadCheck;

    /** An uploader that does not retry: a failed file fails the upload. */
    public RocksDBStateUploader(ExecutorService executor) {
        this(executor, TransferRetryPolicy.NONE);
    }

    public RocksDBStateUploader(ExecutorService executor, TransferRetryPolicy retryPolicy) {
        this(executor, retryPolicy, UploadCheck.NONE);
    }

    /**
     * @param uploadCheck every local file passes it before its upload starts
     */
    public RocksDBStateUploader(
            ExecutorService executor, TransferRetryPolicy retryPolicy, UploadCheck uploadCheck) {
        this.executor = Preconditions.checkNotNull(executor);
        this.retryPolicy = Preconditions.checkNotNull(retryPolicy);
        this.uploadCheck = Preconditions.checkNotNull(uploadCheck);
    }

    /**
     * A local file and the scope it is uploaded in, possibly with an upload of the same file that
     * was started earlier and that the checkpoint took over.
     */
    public static final class FileUpload {
        private final Path path;
        private final CheckpointedStateScope scope;
        @Nullable private final CompletableFuture<StateFile> uploadedAhead;

        public FileUpload(Path path, CheckpointedStateScope scope) {
            this(path, scope, null);
        }

        /**
         * @param uploadedAhead an upload of this file already under way or done, which now belongs
         *     to this upload: its handle is used if it succeeds with the file's size, and discarded
         *     otherwise; null to upload the file here
         */
        public FileUpload(
                Path path,
                CheckpointedStateScope scope,
                @Nullable CompletableFuture<StateFile> uploadedAhead) {
            this.path = Preconditions.checkNotNull(path);
            this.scope = Preconditions.checkNotNull(scope);
            this.uploadedAhead = uploadedAhead;
        }

        public Path getPath() {
            return path;
        }

        public CheckpointedStateScope getScope() {
            return scope;
        }

        @Override
        public String toString() {
            return path + " (" + scope + ")";
        }
    }

    /**
     * Uploads the files, each to its own stream of the factory.
     *
     * @param closeableRegistry every stream is registered here while it is open, so that closing
     *     the registry (cancelling the snapshot) stops the uploads
     * @return the uploaded files, in the order of {@code files}
     */
    public List<StateFile> upload(
            List<FileUpload> files,
            CheckpointStreamFactory streamFactory,
            CloseableRegistry closeableRegistry)
            throws Exception {
        return whileRegistered(
                closeableRegistry,
                cancelled -> uploadAll(files, streamFactory, closeableRegistry, cancelled));
    }

    /**
     * Writes {@code bytes} to one stream of the factory, tried again like a file (the snapshot's
     * own meta data, which it builds in memory after the files were uploaded).
     *
     * @param name the stream's name in messages
     * @param closeableRegistry the stream is registered here while it is open, so that closing the
     *     registry (cancelling the snapshot) stops the upload and its retries
     */
    public StreamStateHandle uploadBytes(
            String name,
            byte[] bytes,
            CheckpointedStateScope scope,
            CheckpointStreamFactory streamFactory,
            CloseableRegistry closeableRegistry)
            throws Exception {
        return whileRegistered(
                        closeableRegistry,
                        cancelled ->
                                uploadWithRetries(
                                        name + " (" + scope + ")",
                                        name,
                                        () -> new ByteArrayInputStream(bytes),
                                        scope,
                                        streamFactory,
                                        closeableRegistry,
                                        cancelled))
                .getHandle();
    }

    /**
     * Uploads one file to one stream of the factory, tried again like the files of a checkpoint, on
     * the calling thread.
     *
     * @param closeableRegistry the stream is registered here while it is open, so that closing the
     *     registry stops the upload and its retries
     */
    public StateFile uploadFile(
            FileUpload file,
            CheckpointStreamFactory streamFactory,
            CloseableRegistry closeableRegistry)
            throws Exception {
        return whileRegistered(
                closeableRegistry,
                cancelled -> uploadLocalFile(file, streamFactory, closeableRegistry, cancelled));
    }

    /** A transfer that stops when the snapshot's registry is closed. */
    @FunctionalInterface
    private interface CancellableTransfer<T> {
        T run(TransferCancellation cancelled) throws Exception;
    }

    /** Runs the transfer with a cancellation registered with the registry while it runs. */
    private static <T> T whileRegistered(
            CloseableRegistry closeableRegistry, CancellableTransfer<T> transfer) throws Exception {
        final TransferCancellation cancelled =
                TransferCancellation.registeredWith(closeableRegistry);
        try {
            return transfer.run(cancelled);
        } finally {
            cancelled.unregister();
        }
    }

    private List<StateFile> uploadAll(
            List<FileUpload> files,
            CheckpointStreamFactory streamFactory,
            CloseableRegistry closeableRegistry,
            TransferCancellation cancelled)
            throws Exception {
        final List<Future<StateFile>> futures = new ArrayList<>(files.size());
        Throwable failure = null;
        int submitted = 0;
        try {
            for (FileUpload file : files) {
                futures.add(
                        executor.submit(
                                () ->
                                        file.uploadedAhead == null
                                                ? uploadLocalFile(
                                                        file,
                                                        streamFactory,
                                                        closeableRegistry,
                                                        cancelled)
                                                : takeOverOrUpload(
                                                        file,
                                                        streamFactory,
                                                        closeableRegistry,
                                                        cancelled)));
                submitted++;
            }
        } catch (RejectedExecutionException e) {
            cancelled.cancel();
            failure =
                    new IOException("The transfer threads are closed; the backend is closing.", e);
            for (FileUpload file : files.subList(submitted, files.size())) {
                if (file.uploadedAhead != null) {
                    discardWhenDone(file.uploadedAhead);
                }
            }
        }

        final List<StateFile> uploaded = new ArrayList<>(futures.size());
        failure =
                TransferFutures.awaitAll(
                        futures,
                        uploaded,
                        cancelled,
                        failure,
                        "The upload of checkpoint files was interrupted.");
        if (failure == null && closeableRegistry.isClosed()) {
            failure = new CancellationException("The upload of checkpoint files was cancelled.");
        }
        if (failure != null) {
            discardAll(uploaded, failure);
            for (int i = 0; i < futures.size(); i++) {
                // a task the closing pool never ran did not take over its earlier upload
                if (futures.get(i).isCancelled() && files.get(i).uploadedAhead != null) {
                    discardWhenDone(files.get(i).uploadedAhead);
                }
            }
            ExceptionUtils.rethrowException(failure);
        }
        return uploaded;
    }

    private StateFile uploadLocalFile(
            FileUpload file,
            CheckpointStreamFactory streamFactory,
            CloseableRegistry closeableRegistry,
            TransferCancellation cancelled)
            throws Exception {
        try {
            uploadCheck.check(file.getPath());
        } catch (Throwable t) {
            cancelled.cancel();
            throw t;
        }
        return uploadWithRetries(
                file.toString(),
                file.getPath().getFileName().toString(),
                () -> LocalFileFailure.openForReading(file.getPath()),
                file.getScope(),
                streamFactory,
                closeableRegistry,
                cancelled);
    }

    /**
     * Waits for the upload that was started ahead of the checkpoint and uses its handle; uploads
     * the file here if that upload failed or wrote another size. A cancellation while waiting
     * leaves the earlier upload to finish and be discarded then.
     */
    private StateFile takeOverOrUpload(
            FileUpload file,
            CheckpointStreamFactory streamFactory,
            CloseableRegistry closeableRegistry,
            TransferCancellation cancelled)
            throws Exception {
        final CompletableFuture<StateFile> ahead = file.uploadedAhead;
        final StateFile earlier;
        try {
            earlier = cancelled.awaitUnlessCancelled(ahead);
        } catch (ExecutionException | CancellationException e) {
            LOG.debug("The upload of {} started ahead failed; it is uploaded again.", file, e);
            return uploadLocalFile(file, streamFactory, closeableRegistry, cancelled);
        } catch (InterruptedException e) {
            discardWhenDone(ahead);
            cancelled.cancel();
            Thread.currentThread().interrupt();
            throw e;
        }
        if (earlier == null) {
            discardWhenDone(ahead);
            throw new CancellationException(
                    "Upload of " + file + " stopped: the upload was cancelled.");
        }
        final long size = Files.size(file.getPath());
        if (earlier.getSize() != size) {
            LOG.warn(
                    "The upload of {} started ahead wrote {} bytes, the file has {}; it is uploaded"
                            + " again.",
                    file,
                    earlier.getSize(),
                    size);
            discardQuietly(earlier);
            return uploadLocalFile(file, streamFactory, closeableRegistry, cancelled);
        }
        return earlier;
    }

    /** Discards what the upload produces once it is done; nothing if it fails. */
    private static void discardWhenDone(CompletableFuture<StateFile> upload) {
        upload.thenAccept(RocksDBStateUploader::discardQuietly);
    }

    /**
     * Discards an uploaded file that no checkpoint refers to; a failure is logged.
     *
     * @return whether it was discarded
     */
    public static boolean discardQuietly(StateFile file) {
        try {
            file.getHandle().discardState();
            return true;
        } catch (Exception e) {
            LOG.warn("Could not discard {}, which no checkpoint refers to.", file, e);
            return false;
        }
    }

    /**
     * Uploads one file or byte array, tried again by the retry policy; once it failed for good, the
     * other uploads of the same cancellation are stopped.
     *
     * @param description what is uploaded, in the retry policy's messages
     * @param name the stream's name in the messages of one attempt
     */
    private StateFile uploadWithRetries(
            String description,
            String name,
            Source source,
            CheckpointedStateScope scope,
            CheckpointStreamFactory streamFactory,
            CloseableRegistry closeableRegistry,
            TransferCancellation cancelled)
            throws Exception {
        try {
            return retryPolicy.call(
                    "upload " + description,
                    () ->
                            uploadStream(
                                    name,
                                    source,
                                    scope,
                                    streamFactory,
                                    closeableRegistry,
                                    cancelled),
                    cancelled);
        } catch (Throwable t) {
            cancelled.cancel();
            throw t;
        }
    }

    /** Opens the bytes to upload, once per attempt. */
    @FunctionalInterface
    private interface Source {
        InputStream open() throws IOException;
    }

    /**
     * One attempt at uploading a file or bytes. When it fails, the stream is closed, which deletes
     * what it wrote; a failure to delete is logged and suppressed into the attempt's failure.
     */
    private static StateFile uploadStream(
            String name,
            Source source,
            CheckpointedStateScope scope,
            CheckpointStreamFactory streamFactory,
            CloseableRegistry closeableRegistry,
            TransferCancellation cancelled)
            throws IOException {
        if (cancelled.isCancelled()) {
            throw new CancellationException(
                    "Upload of " + name + " skipped: the upload was stopped.");
        }
        InputStream in = null;
        GuardedStream out = null;
        try {
            in = source.open();
            closeableRegistry.registerCloseable(in);
            out = new GuardedStream(streamFactory.createCheckpointStateOutputStream(scope));
            closeableRegistry.registerCloseable(out);

            final CRC32C checksum = new CRC32C();
            final byte[] buffer = new byte[BUFFER_SIZE];
            long size = 0;
            int read;
            while ((read = in.read(buffer)) != -1) {
                if (cancelled.isCancelled()) {
                    throw new CancellationException(
                            "Upload of " + name + " stopped: the upload was cancelled.");
                }
                checksum.update(buffer, 0, read);
                out.write(buffer, 0, read);
                size += read;
            }

            // still registered, so that cancelling also stops a stream stuck in completing
            StreamStateHandle handle = out.closeAndGetHandle();
            final boolean cancelledMeanwhile = !closeableRegistry.unregisterCloseable(out);
            out = null;
            if (cancelledMeanwhile) {
                IOException cancellation = new IOException("Upload of " + name + " was cancelled.");
                if (handle != null) {
                    try {
                        handle.discardState();
                    } catch (Exception e) {
                        cancellation.addSuppressed(e);
                    }
                }
                throw cancellation;
            }
            if (handle == null) {
                // nothing was written: streams return no handle for empty files
                handle = new ByteStreamStateHandle("empty-" + UUID.randomUUID(), new byte[0]);
            }
            return new StateFile(name, handle, size, (int) checksum.getValue());
        } catch (Throwable t) {
            if (out != null) {
                closeableRegistry.unregisterCloseable(out);
                deletePartialUpload(out, name, t);
                out = null;
            }
            if (t instanceof CancellationException
                    || t instanceof IOException
                    || t instanceof Error) {
                throw t;
            }
            throw new IOException(
                    "Could not upload " + name + " (" + scope + "): " + t.getMessage(), t);
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
    }

    /** Closing a stream that produced no handle deletes what it wrote (the streams' contract). */
    private static void deletePartialUpload(GuardedStream out, String name, Throwable failure) {
        try {
            out.discard();
        } catch (Throwable t) {
            LOG.warn("Could not delete the partial upload of {}.", name, t);
            failure.addSuppressed(t);
        }
    }

    /**
     * The output stream of one upload, closed by its own thread or, on cancellation, by the
     * registry's. Checkpoint streams are not thread-safe: a close racing a write can let the write
     * create the file again after the close deleted it. Writes and a cancelling close therefore
     * take turns; only a write that is stuck for long is closed under its feet, to unblock it.
     */
    private static final class GuardedStream implements java.io.Closeable {
        private static final long CLOSE_WAIT_MILLIS = 1000;

        private final CheckpointStateOutputStream stream;
        private final java.util.concurrent.locks.ReentrantLock lock =
                new java.util.concurrent.locks.ReentrantLock();
        private volatile boolean closed;
        private volatile boolean completed;

        GuardedStream(CheckpointStateOutputStream stream) {
            this.stream = stream;
        }

        void write(byte[] buffer, int offset, int length) throws IOException {
            lock.lock();
            try {
                if (closed) {
                    throw new IOException("The upload stream was closed.");
                }
                stream.write(buffer, offset, length);
            } finally {
                lock.unlock();
            }
        }

        /** Completes the upload; fails if a cancelling close came first. */
        StreamStateHandle closeAndGetHandle() throws IOException {
            lock.lock();
            try {
                if (closed) {
                    throw new IOException("The upload stream was closed.");
                }
                StreamStateHandle handle = stream.closeAndGetHandle();
                completed = true;
                return handle;
            } finally {
                lock.unlock();
            }
        }

        /** Called by the registry on cancellation; what the stream wrote is deleted quietly. */
        @Override
        public void close() {
            try {
                discard();
            } catch (IOException e) {
                LOG.warn("Could not delete what a cancelled upload wrote.", e);
            }
        }

        /** Closes the stream unless it completed, which deletes what it wrote. */
        void discard() throws IOException {
            if (completed) {
                // the file belongs to the handle now; its owner discards it if needed
                return;
            }
            closed = true;
            boolean locked = false;
            try {
                locked = lock.tryLock(CLOSE_WAIT_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            try {
                stream.close();
            } finally {
                if (locked) {
                    lock.unlock();
                }
            }
        }
    }

    private static void discardAll(List<StateFile> files, Throwable failure) {
        for (StateFile file : files) {
            try {
                file.getHandle().discardState();
            } catch (Exception e) {
                LOG.warn("Could not discard {} after a failed upload.", file, e);
                failure.addSuppressed(e);
            }
        }
    }
}
