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

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.CRC32C;

/**
 * Uploads local files to checkpoint storage in parallel, computing each file's CRC32C on the way.
 *
 * <p>All or nothing: when one upload fails or the uploads are cancelled (the given registry is
 * closed, or the calling thread interrupted), the uploads not yet started are skipped, the running
 * ones are stopped (closing a stream deletes what it wrote), every handle already produced is
 * discarded, and only then the failure is rethrown. No upload is still running when this returns.
 */
public final class RocksDBStateUploader {

    private static final Logger LOG = LoggerFactory.getLogger(RocksDBStateUploader.class);

    private static final int BUFFER_SIZE = 64 * 1024;

    private final ExecutorService executor;

    public RocksDBStateUploader(ExecutorService executor) {
        this.executor = Preconditions.checkNotNull(executor);
    }

    /** A local file and the scope it is uploaded in. */
    public static final class FileUpload {
        private final Path path;
        private final CheckpointedStateScope scope;

        public FileUpload(Path path, CheckpointedStateScope scope) {
            this.path = Preconditions.checkNotNull(path);
            this.scope = Preconditions.checkNotNull(scope);
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
        final AtomicBoolean cancelled = new AtomicBoolean();
        final List<Future<StateFile>> futures = new ArrayList<>(files.size());
        Throwable failure = null;
        try {
            for (FileUpload file : files) {
                futures.add(
                        executor.submit(
                                () ->
                                        uploadFile(
                                                file,
                                                streamFactory,
                                                closeableRegistry,
                                                cancelled)));
            }
        } catch (RejectedExecutionException e) {
            cancelled.set(true);
            failure =
                    new IOException("The transfer threads are closed; the backend is closing.", e);
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
            ExceptionUtils.rethrowException(failure);
        }
        return uploaded;
    }

    private static StateFile uploadFile(
            FileUpload file,
            CheckpointStreamFactory streamFactory,
            CloseableRegistry closeableRegistry,
            AtomicBoolean cancelled)
            throws IOException {
        final String name = file.getPath().getFileName().toString();
        if (cancelled.get()) {
            throw new CancellationException(
                    "Upload of " + name + " skipped: the upload was stopped.");
        }
        InputStream in = null;
        GuardedStream out = null;
        try {
            in = Files.newInputStream(file.getPath());
            closeableRegistry.registerCloseable(in);
            out =
                    new GuardedStream(
                            streamFactory.createCheckpointStateOutputStream(file.getScope()));
            closeableRegistry.registerCloseable(out);

            final CRC32C checksum = new CRC32C();
            final byte[] buffer = new byte[BUFFER_SIZE];
            long size = 0;
            int read;
            while ((read = in.read(buffer)) != -1) {
                if (cancelled.get()) {
                    throw new CancellationException(
                            "Upload of " + name + " stopped: another upload failed.");
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
            cancelled.set(true);
            if (t instanceof CancellationException || t instanceof IOException) {
                throw t;
            }
            throw new IOException("Could not upload " + file + ": " + t.getMessage(), t);
        } finally {
            if (out != null) {
                closeableRegistry.unregisterCloseable(out);
                // closing a stream that produced no handle deletes what it wrote
                IOUtils.closeQuietly(out);
            }
            if (in != null) {
                closeableRegistry.unregisterCloseable(in);
                IOUtils.closeQuietly(in);
            }
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

        @Override
        public void close() {
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
                IOUtils.closeQuietly(stream);
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
