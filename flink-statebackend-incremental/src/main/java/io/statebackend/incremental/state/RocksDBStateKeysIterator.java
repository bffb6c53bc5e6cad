package io.statebackend.incremental.state;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.util.FlinkRuntimeException;
import org.apache.flink.util.Preconditions;

import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

import javax.annotation.Nullable;

import java.io.IOException;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.function.Consumer;

/**
 * Iterates the distinct (key, namespace) pairs of one state, optionally only those of one
 * namespace. Map states have several entries per pair; consecutive duplicates are skipped, which
 * suffices because entries of one pair are adjacent in key order.
 *
 * <p>The native iterator is closed when the iterator is exhausted, when it is closed, or when the
 * backend is disposed ({@link #closeBecauseDisposed}), whichever comes first; the backend may do
 * the latter from another thread, so access to the native iterator is synchronized. Used after
 * dispose, the iterator fails rather than touching the closed database.
 */
public final class RocksDBStateKeysIterator<K, N> implements Iterator<Tuple2<K, N>>, AutoCloseable {

    private final RocksIterator iterator;
    private final String stateName;
    private final TypeSerializer<K> keySerializer;
    private final TypeSerializer<N> namespaceSerializer;
    private final int keyGroupPrefixBytes;
    private final boolean ambiguousKeyPossible;
    @Nullable private final byte[] namespaceBytes;
    private final DataInputDeserializer input = new DataInputDeserializer();
    private final Consumer<? super RocksDBStateKeysIterator<K, N>> onClose;

    private Tuple2<K, N> next;
    private byte[] previousKeyAndNamespace;
    private boolean closed;
    private boolean disposed;

    public RocksDBStateKeysIterator(
            RocksIterator iterator,
            String stateName,
            TypeSerializer<K> keySerializer,
            TypeSerializer<N> namespaceSerializer,
            int keyGroupPrefixBytes,
            @Nullable N namespace,
            Consumer<? super RocksDBStateKeysIterator<K, N>> onClose)
            throws IOException {
        this.iterator = Preconditions.checkNotNull(iterator, "The RocksDB iterator is null.");
        this.onClose = Preconditions.checkNotNull(onClose, "The close callback is null.");
        this.stateName = stateName;
        this.keySerializer = keySerializer.duplicate();
        this.namespaceSerializer = namespaceSerializer.duplicate();
        this.keyGroupPrefixBytes = keyGroupPrefixBytes;
        this.ambiguousKeyPossible =
                CompositeKeySerializationUtils.isAmbiguousKeyPossible(
                        keySerializer, namespaceSerializer);
        if (namespace != null) {
            DataOutputSerializer out = new DataOutputSerializer(32);
            CompositeKeySerializationUtils.writeNameSpace(
                    namespace, this.namespaceSerializer, out, ambiguousKeyPossible);
            this.namespaceBytes = out.getCopyOfBuffer();
        } else {
            this.namespaceBytes = null;
        }
        iterator.seekToFirst();
    }

    @Override
    public synchronized boolean hasNext() {
        if (next != null) {
            return true;
        }
        if (disposed) {
            throw new IllegalStateException(
                    "The keys of state "
                            + stateName
                            + " cannot be read: the keyed state backend was disposed.");
        }
        if (closed) {
            return false;
        }
        try {
            while (iterator.isValid()) {
                byte[] key = iterator.key();
                iterator.next();
                input.setBuffer(key, keyGroupPrefixBytes, key.length - keyGroupPrefixBytes);
                K k =
                        CompositeKeySerializationUtils.readKey(
                                keySerializer, input, ambiguousKeyPossible);
                int namespaceStart = key.length - input.available();
                N n =
                        CompositeKeySerializationUtils.readNamespace(
                                namespaceSerializer, input, ambiguousKeyPossible);
                int namespaceEnd = key.length - input.available();
                if (namespaceBytes != null
                        && !Arrays.equals(
                                key,
                                namespaceStart,
                                namespaceEnd,
                                namespaceBytes,
                                0,
                                namespaceBytes.length)) {
                    continue;
                }
                byte[] keyAndNamespace = Arrays.copyOf(key, namespaceEnd);
                if (Arrays.equals(keyAndNamespace, previousKeyAndNamespace)) {
                    continue;
                }
                previousKeyAndNamespace = keyAndNamespace;
                next = Tuple2.of(k, n);
                return true;
            }
            // an iterator that met an unreadable block is invalid as at the end of its keys
            iterator.status();
        } catch (IOException | RocksDBException e) {
            close();
            throw new FlinkRuntimeException("Could not read the keys of state " + stateName, e);
        }
        close();
        return false;
    }

    @Override
    public synchronized Tuple2<K, N> next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        Tuple2<K, N> result = next;
        next = null;
        return result;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            iterator.close();
            onClose.accept(this);
        }
    }

    /** Closes the native iterator before the database is closed; later reads fail. */
    public synchronized void closeBecauseDisposed() {
        disposed = true;
        close();
    }
}
