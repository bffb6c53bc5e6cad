package io.statebackend.incremental.testutils;

import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.runtime.state.CheckpointStateOutputStream;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CheckpointedStateScope;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.filesystem.FsCheckpointStreamFactory;

import javax.annotation.Nullable;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Checkpoint stream factories for tests: real files on the local file system, with faults. */
public final class TestStreamFactories {

    private TestStreamFactories() {}

    /** A factory writing every stream to a file below {@code root} (exclusive/ or shared/). */
    public static FsCheckpointStreamFactory files(Path root) throws IOException {
        Path exclusive = Files.createDirectories(root.resolve("exclusive"));
        Path shared = Files.createDirectories(root.resolve("shared"));
        return new FsCheckpointStreamFactory(
                FileSystem.getLocalFileSystem(),
                new org.apache.flink.core.fs.Path(exclusive.toUri()),
                new org.apache.flink.core.fs.Path(shared.toUri()),
                0,
                4096);
    }

    /** A factory of the tests' own streams: no handle is duplicated on the storage side. */
    public abstract static class NonDuplicatingStreamFactory implements CheckpointStreamFactory {
        @Override
        public boolean canFastDuplicate(
                StreamStateHandle stateHandle, CheckpointedStateScope scope) {
            return false;
        }

        @Override
        public List<StreamStateHandle> duplicate(
                List<StreamStateHandle> stateHandles, CheckpointedStateScope scope) {
            throw new UnsupportedOperationException();
        }
    }

    /** All regular files below {@code root}. */
    public static List<Path> filesBelow(Path root) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile).sorted().collect(Collectors.toList());
        }
    }

    /** Delegates to another factory and counts the streams it creates, by scope. */
    public static final class CountingStreamFactory extends NonDuplicatingStreamFactory {
        private final CheckpointStreamFactory delegate;
        private final AtomicInteger shared = new AtomicInteger();
        private final AtomicInteger exclusive = new AtomicInteger();

        public CountingStreamFactory(CheckpointStreamFactory delegate) {
            this.delegate = delegate;
        }

        @Override
        public CheckpointStateOutputStream createCheckpointStateOutputStream(
                CheckpointedStateScope scope) throws IOException {
            (scope == CheckpointedStateScope.SHARED ? shared : exclusive).incrementAndGet();
            return delegate.createCheckpointStateOutputStream(scope);
        }

        public int sharedStreams() {
            return shared.get();
        }

        public int exclusiveStreams() {
            return exclusive.get();
        }

        public void reset() {
            shared.set(0);
            exclusive.set(0);
        }
    }

    /**
     * Delegates to another factory and fails the {@code failOn}-th stream (1-based) and every later
     * one, as storage that broke down: either when it is created or, with {@code failOnWrite}, at
     * its first write, after it was opened. (A single failed stream would be retried away by the
     * uploader; {@link FlakyStreamFactory} is the storage that recovers.)
     */
    public static final class FailingStreamFactory extends NonDuplicatingStreamFactory {
        private final CheckpointStreamFactory delegate;
        private final int failOn;
        private final boolean failOnWrite;
        private final AtomicInteger created = new AtomicInteger();
        private final List<StreamStateHandle> produced = new CopyOnWriteArrayList<>();

        public FailingStreamFactory(
                CheckpointStreamFactory delegate, int failOn, boolean failOnWrite) {
            this.delegate = delegate;
            this.failOn = failOn;
            this.failOnWrite = failOnWrite;
        }

        @Override
        public CheckpointStateOutputStream createCheckpointStateOutputStream(
                CheckpointedStateScope scope) throws IOException {
            int number = created.incrementAndGet();
            if (number >= failOn && !failOnWrite) {
                throw new IOException("Injected failure creating stream " + number);
            }
            return new ForwardingStream(
                    delegate.createCheckpointStateOutputStream(scope), number >= failOn, produced);
        }

        public int createdStreams() {
            return created.get();
        }

        /** Handles the streams returned, whether or not they were discarded later. */
        public List<StreamStateHandle> producedHandles() {
            return new ArrayList<>(produced);
        }
    }

    /**
     * Delegates to another factory; the {@code blockOn}-th stream blocks in its first write until
     * it is closed, like a stalled upload.
     */
    public static final class BlockingStreamFactory extends NonDuplicatingStreamFactory {
        private final CheckpointStreamFactory delegate;
        private final int blockOn;
        private final AtomicInteger created = new AtomicInteger();
        private final CountDownLatch blocked = new CountDownLatch(1);

        public BlockingStreamFactory(CheckpointStreamFactory delegate, int blockOn) {
            this.delegate = delegate;
            this.blockOn = blockOn;
        }

        @Override
        public CheckpointStateOutputStream createCheckpointStateOutputStream(
                CheckpointedStateScope scope) throws IOException {
            CheckpointStateOutputStream stream = delegate.createCheckpointStateOutputStream(scope);
            if (created.incrementAndGet() != blockOn) {
                return stream;
            }
            return new BlockingStream(stream, blocked);
        }

        /** Waits until the blocking stream is blocked in a write. */
        public void awaitBlocked() throws InterruptedException {
            blocked.await();
        }
    }

    /**
     * Delegates to another factory; every stream blocks in its first write until {@link #release}
     * is called, ignoring close and interruption meanwhile, like storage that hangs in a system
     * call. Tests must release it at the end, so that no thread stays blocked.
     */
    public static final class StuckStreamFactory extends NonDuplicatingStreamFactory {
        private final CheckpointStreamFactory delegate;
        private final CountDownLatch stuck = new CountDownLatch(1);
        private final CountDownLatch released = new CountDownLatch(1);
        private final AtomicInteger closeCalls = new AtomicInteger();
        private final AtomicInteger interrupts = new AtomicInteger();

        public StuckStreamFactory(CheckpointStreamFactory delegate) {
            this.delegate = delegate;
        }

        @Override
        public CheckpointStateOutputStream createCheckpointStateOutputStream(
                CheckpointedStateScope scope) throws IOException {
            return new StuckStream(delegate.createCheckpointStateOutputStream(scope), this);
        }

        /** Waits until a stream is blocked in a write. */
        public void awaitStuck() throws InterruptedException {
            stuck.await();
        }

        /** Lets every blocked write go on. */
        public void release() {
            released.countDown();
        }

        /** How often a stream's close was called while a write was stuck or after. */
        public int closeCalls() {
            return closeCalls.get();
        }

        /** How often a stuck write's thread was interrupted. */
        public int interrupts() {
            return interrupts.get();
        }

        private void block() {
            stuck.countDown();
            boolean interrupted = false;
            while (true) {
                try {
                    released.await();
                    break;
                } catch (InterruptedException e) {
                    interrupts.incrementAndGet();
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Delegates to another factory; the first {@code failures} streams of {@code failingScope} fail
     * like a flaky object store, after some of their bytes reached storage: at their first write,
     * or with {@code failOnComplete} when they are completed. Their files are deleted only by the
     * uploader closing the failed stream. Other streams, and those of this scope once the failures
     * are used up, work.
     */
    public static final class FlakyStreamFactory extends NonDuplicatingStreamFactory {
        private final CheckpointStreamFactory delegate;
        private final CheckpointedStateScope failingScope;
        private final boolean failOnComplete;
        private final AtomicInteger failuresLeft;
        private final AtomicInteger failed = new AtomicInteger();
        private final AtomicInteger created = new AtomicInteger();
        private final List<StreamStateHandle> produced = new CopyOnWriteArrayList<>();

        public FlakyStreamFactory(
                CheckpointStreamFactory delegate,
                CheckpointedStateScope failingScope,
                int failures,
                boolean failOnComplete) {
            this.delegate = delegate;
            this.failingScope = failingScope;
            this.failOnComplete = failOnComplete;
            this.failuresLeft = new AtomicInteger(failures);
        }

        /** Every stream of the scope fails. */
        public static FlakyStreamFactory failingAlways(
                CheckpointStreamFactory delegate, CheckpointedStateScope failingScope) {
            return new FlakyStreamFactory(delegate, failingScope, Integer.MAX_VALUE, false);
        }

        @Override
        public CheckpointStateOutputStream createCheckpointStateOutputStream(
                CheckpointedStateScope scope) throws IOException {
            created.incrementAndGet();
            final boolean fails = scope == failingScope && failuresLeft.getAndDecrement() > 0;
            final CheckpointStateOutputStream stream =
                    delegate.createCheckpointStateOutputStream(scope);
            if (!fails) {
                return new ForwardingStream(stream, false, produced);
            }
            return new ForwardingStream(stream, false, null) {
                @Override
                void beforeWrite() throws IOException {
                    if (!failOnComplete) {
                        failAfterSomeBytes(delegate);
                    }
                }

                @Nullable
                @Override
                public StreamStateHandle closeAndGetHandle() throws IOException {
                    failAfterSomeBytes(delegate);
                    throw new IllegalStateException("unreachable");
                }
            };
        }

        private void failAfterSomeBytes(CheckpointStateOutputStream stream) throws IOException {
            stream.write(new byte[8192]);
            stream.flush();
            throw new IOException("Injected transient failure " + failed.incrementAndGet());
        }

        /** Streams that failed so far. */
        public int failedStreams() {
            return failed.get();
        }

        public int createdStreams() {
            return created.get();
        }

        /** Handles of the streams that completed. */
        public List<StreamStateHandle> producedHandles() {
            return new ArrayList<>(produced);
        }
    }

    private static class ForwardingStream extends CheckpointStateOutputStream {
        final CheckpointStateOutputStream delegate;
        private final boolean failOnWrite;
        @Nullable private final Collection<StreamStateHandle> produced;

        ForwardingStream(
                CheckpointStateOutputStream delegate,
                boolean failOnWrite,
                @Nullable Collection<StreamStateHandle> produced) {
            this.delegate = delegate;
            this.failOnWrite = failOnWrite;
            this.produced = produced;
        }

        @Nullable
        @Override
        public StreamStateHandle closeAndGetHandle() throws IOException {
            // a stream of an empty file sees no write: it fails here instead
            beforeWrite();
            StreamStateHandle handle = delegate.closeAndGetHandle();
            if (handle != null && produced != null) {
                produced.add(handle);
            }
            return handle;
        }

        @Override
        public long getPos() throws IOException {
            return delegate.getPos();
        }

        @Override
        public void write(int b) throws IOException {
            beforeWrite();
            delegate.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            beforeWrite();
            delegate.write(b, off, len);
        }

        void beforeWrite() throws IOException {
            if (failOnWrite) {
                delegate.write(new byte[] {1, 2, 3});
                delegate.flush();
                throw new IOException("Injected failure writing a stream");
            }
        }

        @Override
        public void flush() throws IOException {
            delegate.flush();
        }

        @Override
        public void sync() throws IOException {
            delegate.sync();
        }

        @Override
        public void close() throws IOException {
            delegate.close();
        }
    }

    private static final class BlockingStream extends ForwardingStream {
        private final CountDownLatch blocked;
        private final CountDownLatch closed = new CountDownLatch(1);

        BlockingStream(CheckpointStateOutputStream delegate, CountDownLatch blocked) {
            super(delegate, false, null);
            this.blocked = blocked;
        }

        @Override
        void beforeWrite() throws IOException {
            blocked.countDown();
            try {
                closed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
            throw new IOException("The stream was closed.");
        }

        @Override
        public void close() throws IOException {
            closed.countDown();
            super.close();
        }
    }

    private static final class StuckStream extends ForwardingStream {
        private final StuckStreamFactory factory;
        private boolean blocked;

        StuckStream(CheckpointStateOutputStream delegate, StuckStreamFactory factory) {
            super(delegate, false, null);
            this.factory = factory;
        }

        @Override
        void beforeWrite() {
            if (!blocked) {
                blocked = true;
                factory.block();
            }
        }

        @Override
        public void close() throws IOException {
            // the storage ignores it while the write hangs; the file is cleaned up afterwards
            factory.closeCalls.incrementAndGet();
            super.close();
        }
    }
}
