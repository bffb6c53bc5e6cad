package io.statebackend.incremental.testutils;

import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.runtime.state.PhysicalStateHandleID;
import org.apache.flink.runtime.state.StreamStateHandle;

import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A handle to a file in flaky storage: the first {@code failures} reads of the file break off after
 * a few bytes with an {@link IOException}, like a connection reset; later reads work.
 */
public final class FlakyStreamStateHandle implements StreamStateHandle {
    private static final long serialVersionUID = 1L;

    private final StreamStateHandle delegate;
    private final int failures;
    private final AtomicInteger opened = new AtomicInteger();

    public FlakyStreamStateHandle(StreamStateHandle delegate, int failures) {
        this.delegate = delegate;
        this.failures = failures;
    }

    @Override
    public FSDataInputStream openInputStream() throws IOException {
        final FSDataInputStream in = delegate.openInputStream();
        if (opened.incrementAndGet() > failures) {
            return in;
        }
        return new FSDataInputStream() {
            @Override
            public void seek(long desired) throws IOException {
                in.seek(desired);
            }

            @Override
            public long getPos() throws IOException {
                return in.getPos();
            }

            @Override
            public int read() throws IOException {
                if (in.getPos() >= 1000) {
                    throw new IOException("Injected read failure");
                }
                return in.read();
            }

            @Override
            public void close() throws IOException {
                in.close();
            }
        };
    }

    /** How often the file was opened for reading. */
    public int openedStreams() {
        return opened.get();
    }

    @Override
    public Optional<byte[]> asBytesIfInMemory() {
        return Optional.empty();
    }

    @Override
    public PhysicalStateHandleID getStreamStateHandleID() {
        return delegate.getStreamStateHandleID();
    }

    @Override
    public void discardState() throws Exception {
        delegate.discardState();
    }

    @Override
    public long getStateSize() {
        return delegate.getStateSize();
    }
}
