package io.statebackend.incremental.timers;

import io.statebackend.incremental.rocksdb.BoundedIterator;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.runtime.state.InternalPriorityQueue;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueElement;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.FlinkRuntimeException;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

import javax.annotation.Nonnull;
import javax.annotation.Nullable;

import java.io.IOException;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.NoSuchElementException;

import static org.apache.flink.util.Preconditions.checkArgument;
import static org.apache.flink.util.Preconditions.checkNotNull;

/**
 * The elements of one key-group of a priority queue (e.g. the timers of a key-group), kept in a
 * RocksDB column family and meant as a sub-queue of a {@link
 * org.apache.flink.runtime.state.heap.KeyGroupPartitionedPriorityQueue}.
 *
 * <p>Every element is one RocksDB key: the key-group id in {@code keyGroupPrefixBytes} big-endian
 * bytes, followed by the serialized element; the value is empty. The element serializer must be
 * byte-ordered, i.e. the unsigned lexicographic order of the serialized bytes is the priority
 * order, so RocksDB's bytewise comparator sorts the elements of a key-group by priority and the
 * queue has set semantics: equal elements serialize to the same key.
 *
 * <p>RocksDB is the source of truth; writes go to it through a {@link TimerWriteBatch} shared by
 * the queues of a backend, which the queue flushes before it reads from RocksDB. On top of it the
 * queue keeps a small sorted cache of serialized keys that is always a prefix of the sorted
 * elements of the key-group, i.e. the up to {@code cacheCapacity} smallest ones, so that {@link
 * #peek()}, {@link #poll()} and most {@link #add(Object)}/{@link #remove(Object)} calls do not need
 * to read from RocksDB. When the cache runs empty while the key-group holds more elements, it is
 * refilled from RocksDB on the next access. The cache starts empty and unfilled, so elements that
 * are already in the database (after a restore) are found on first access.
 *
 * <p>Not thread-safe; meant to be used by the task thread only.
 */
public final class RocksDBPriorityQueueSet<T>
        implements InternalPriorityQueue<T>, HeapPriorityQueueElement {

    /** Orders serialized keys like RocksDB's default bytewise comparator. */
    private static final Comparator<byte[]> UNSIGNED_LEXICOGRAPHIC = Arrays::compareUnsigned;

    private static final byte[] EMPTY_VALUE = new byte[0];

    private final int keyGroupId;
    private final int keyGroupPrefixBytes;
    private final RocksDB db;
    private final ColumnFamilyHandle columnFamily;
    private final ReadOptions readOptions;
    private final TimerWriteBatch writes;
    private final TypeSerializer<T> byteOrderedElementSerializer;
    private final int cacheCapacity;

    /** The key-group id as the big-endian prefix of all keys of this queue. */
    private final byte[] keyGroupPrefix;

    /** The prefix of the next key-group, where iterators over this one stop; null if none. */
    @Nullable private final byte[] nextKeyGroupPrefix;

    /** The smallest (at most {@link #cacheCapacity}) keys of this key-group, in sorted order. */
    private final SortedKeyCache cache;

    /** Reused to serialize elements (prefix included) into keys. */
    private final DataOutputSerializer outputView;

    /** Reused to deserialize elements from keys. */
    private final DataInputDeserializer inputView;

    /**
     * Whether {@link #cache} holds all elements of this key-group. If false and the cache is not
     * empty, every element that is not in the cache is greater than the last cached key. If false
     * and the cache is empty, the cache has to be (re)filled from RocksDB before it is used.
     */
    private boolean allElementsInCache;

    /**
     * A key that is no greater than any element of this key-group in RocksDB, to start the next
     * refill from instead of the key-group prefix, so that refills do not skip again over the
     * tombstones of elements that were already polled. Null to start from the prefix.
     */
    @Nullable private byte[] seekHint;

    /** The deserialized head element, or null if not deserialized yet. */
    @Nullable private T peekCache;

    /** The index of this queue in the heap of key-group queues that holds it. */
    private int internalIndex;

    public RocksDBPriorityQueueSet(
            int keyGroupId,
            int keyGroupPrefixBytes,
            RocksDB db,
            ColumnFamilyHandle columnFamily,
            ReadOptions readOptions,
            TimerWriteBatch writes,
            TypeSerializer<T> byteOrderedElementSerializer,
            int cacheCapacity) {
        checkArgument(keyGroupId >= 0, "Negative key-group id: %s", keyGroupId);
        checkArgument(
                keyGroupPrefixBytes >= 1 && keyGroupPrefixBytes <= 2,
                "The key-group prefix must have 1 or 2 bytes, not %s",
                keyGroupPrefixBytes);
        checkArgument(
                keyGroupId < (1 << (8 * keyGroupPrefixBytes)),
                "Key-group id %s does not fit into %s prefix byte(s)",
                keyGroupId,
                keyGroupPrefixBytes);
        checkArgument(cacheCapacity > 0, "The cache capacity must be positive: %s", cacheCapacity);
        this.keyGroupId = keyGroupId;
        this.keyGroupPrefixBytes = keyGroupPrefixBytes;
        this.db = checkNotNull(db);
        this.columnFamily = checkNotNull(columnFamily);
        this.readOptions = checkNotNull(readOptions);
        this.writes = checkNotNull(writes);
        this.byteOrderedElementSerializer = checkNotNull(byteOrderedElementSerializer);
        this.cacheCapacity = cacheCapacity;
        this.keyGroupPrefix = new byte[keyGroupPrefixBytes];
        CompositeKeySerializationUtils.serializeKeyGroup(keyGroupId, keyGroupPrefix);
        this.nextKeyGroupPrefix = nextKeyGroupPrefix(keyGroupId, keyGroupPrefixBytes);
        this.cache = new SortedKeyCache(cacheCapacity);
        this.outputView = new DataOutputSerializer(64);
        this.inputView = new DataInputDeserializer();
        this.allElementsInCache = false;
        this.seekHint = null;
        this.peekCache = null;
        this.internalIndex = HeapPriorityQueueElement.NOT_CONTAINED;
    }

    // ------------------------------------------------------------------------
    //  InternalPriorityQueue
    // ------------------------------------------------------------------------

    @Nullable
    @Override
    public T poll() {
        ensureCacheFilled();
        if (cache.isEmpty()) {
            return null;
        }
        final byte[] head = cache.first();
        deleteFromDb(head, "polling an element");
        cache.pollFirst();
        if (cache.isEmpty() && !allElementsInCache) {
            // all remaining elements are greater than the polled one
            seekHint = head;
        }
        final T result = peekCache != null ? peekCache : deserializeElement(head, inputView);
        peekCache = null;
        return result;
    }

    @Nullable
    @Override
    public T peek() {
        if (peekCache != null) {
            return peekCache;
        }
        ensureCacheFilled();
        if (cache.isEmpty()) {
            return null;
        }
        peekCache = deserializeElement(cache.first(), inputView);
        return peekCache;
    }

    @Override
    public boolean add(@Nonnull T toAdd) {
        final byte[] key = serializeElement(toAdd);
        ensureCacheFilled();

        if (!allElementsInCache && UNSIGNED_LEXICOGRAPHIC.compare(key, cache.last()) > 0) {
            // Beyond the cached prefix, so it cannot become the head. It may already be in the
            // database; writing the same key again does not change the set.
            putIntoDb(key, "adding an element");
            return false;
        }

        // Belongs into the cached prefix; the cache knows whether it is already contained.
        if (cache.contains(key)) {
            return false;
        }
        putIntoDb(key, "adding an element");
        cache.add(key);
        if (cache.size() > cacheCapacity) {
            // the evicted (greatest) key stays in the database
            cache.pollLast();
            allElementsInCache = false;
        }
        if (cache.first() == key) {
            peekCache = null;
            return true;
        }
        return false;
    }

    @Override
    public boolean remove(@Nonnull T toRemove) {
        final byte[] key = serializeElement(toRemove);
        ensureCacheFilled();

        if (cache.isEmpty()) {
            // the key-group is empty
            return false;
        }

        if (!allElementsInCache && UNSIGNED_LEXICOGRAPHIC.compare(key, cache.last()) > 0) {
            // Beyond the cached prefix, so it is not the head. Deleting a missing key is harmless.
            deleteFromDb(key, "removing an element");
            return false;
        }

        // Within the cached prefix: contained if and only if it is in the cache.
        final boolean isHead = UNSIGNED_LEXICOGRAPHIC.compare(key, cache.first()) == 0;
        if (!cache.contains(key)) {
            return false;
        }
        deleteFromDb(key, "removing an element");
        cache.remove(key);
        if (cache.isEmpty() && !allElementsInCache) {
            // the removed key was the last cached one; all remaining elements are greater
            seekHint = key;
        }
        if (isHead) {
            peekCache = null;
        }
        return isHead;
    }

    @Override
    public boolean isEmpty() {
        ensureCacheFilled();
        return cache.isEmpty();
    }

    @Override
    public int size() {
        if (allElementsInCache) {
            return cache.size();
        }
        int count = 0;
        writes.flushUnchecked();
        try (BoundedIterator opened = openIterator(keyGroupPrefix)) {
            final RocksIterator iterator = opened.iterator();
            while (iterator.isValid() && isKeyOfThisKeyGroup(iterator.key())) {
                count++;
                iterator.next();
            }
            iterator.status();
        } catch (RocksDBException e) {
            throw new FlinkRuntimeException(
                    "Error while counting the elements of key-group " + keyGroupId + " in RocksDB.",
                    e);
        }
        return count;
    }

    @Override
    public void addAll(@Nullable Collection<? extends T> toAdd) {
        if (toAdd == null) {
            return;
        }
        for (T element : toAdd) {
            add(element);
        }
    }

    /**
     * Returns an iterator over all elements of this key-group, read from RocksDB, in priority
     * order. The iterator must be closed after use; it also releases its native resources when it
     * is exhausted.
     */
    @Nonnull
    @Override
    public CloseableIterator<T> iterator() {
        writes.flushUnchecked();
        return new KeyGroupElementIterator(openIterator(keyGroupPrefix));
    }

    // ------------------------------------------------------------------------
    //  HeapPriorityQueueElement
    // ------------------------------------------------------------------------

    @Override
    public int getInternalIndex() {
        return internalIndex;
    }

    @Override
    public void setInternalIndex(int newIndex) {
        this.internalIndex = newIndex;
    }

    // ------------------------------------------------------------------------
    //  Cache maintenance
    // ------------------------------------------------------------------------

    /**
     * Fills the empty cache from RocksDB if it does not hold all elements of this key-group, so
     * that afterwards the cache is empty only if the key-group is empty.
     */
    private void ensureCacheFilled() {
        if (cache.isEmpty() && !allElementsInCache) {
            refillCache();
        }
    }

    private void refillCache() {
        final byte[] seekKey = seekHint != null ? seekHint : keyGroupPrefix;
        seekHint = null;
        writes.flushUnchecked();
        try (BoundedIterator opened = openIterator(seekKey)) {
            final RocksIterator iterator = opened.iterator();
            while (cache.size() < cacheCapacity && iterator.isValid()) {
                final byte[] key = iterator.key();
                if (!isKeyOfThisKeyGroup(key)) {
                    break;
                }
                cache.add(key);
                iterator.next();
            }
            // If the iterator stopped on another key of this key-group, there is more.
            allElementsInCache = !(iterator.isValid() && isKeyOfThisKeyGroup(iterator.key()));
            iterator.status();
        } catch (RocksDBException e) {
            throw new FlinkRuntimeException(
                    "Error while loading the elements of key-group "
                            + keyGroupId
                            + " from RocksDB.",
                    e);
        }
    }

    private BoundedIterator openIterator(byte[] seekKey) {
        return new BoundedIterator(db, columnFamily, readOptions, nextKeyGroupPrefix, seekKey);
    }

    /**
     * The prefix of the key-group after {@code keyGroupId} in {@code prefixBytes} big-endian bytes,
     * or null if that id does not fit into them (then nothing follows the key-group's keys).
     */
    @Nullable
    static byte[] nextKeyGroupPrefix(int keyGroupId, int prefixBytes) {
        int next = keyGroupId + 1;
        if (next >= 1 << (8 * prefixBytes)) {
            return null;
        }
        byte[] prefix = new byte[prefixBytes];
        CompositeKeySerializationUtils.serializeKeyGroup(next, prefix);
        return prefix;
    }

    private boolean isKeyOfThisKeyGroup(byte[] key) {
        if (key.length < keyGroupPrefixBytes) {
            return false;
        }
        for (int i = 0; i < keyGroupPrefixBytes; i++) {
            if (key[i] != keyGroupPrefix[i]) {
                return false;
            }
        }
        return true;
    }

    // ------------------------------------------------------------------------
    //  RocksDB access and serialization
    // ------------------------------------------------------------------------

    private void putIntoDb(byte[] key, String operation) {
        try {
            writes.put(columnFamily, key, EMPTY_VALUE);
        } catch (RocksDBException e) {
            throw new FlinkRuntimeException(
                    "Error while " + operation + " of key-group " + keyGroupId + " in RocksDB.", e);
        }
    }

    private void deleteFromDb(byte[] key, String operation) {
        try {
            writes.delete(columnFamily, key);
        } catch (RocksDBException e) {
            throw new FlinkRuntimeException(
                    "Error while " + operation + " of key-group " + keyGroupId + " in RocksDB.", e);
        }
    }

    private byte[] serializeElement(T element) {
        try {
            outputView.clear();
            CompositeKeySerializationUtils.writeKeyGroup(
                    keyGroupId, keyGroupPrefixBytes, outputView);
            byteOrderedElementSerializer.serialize(element, outputView);
            return outputView.getCopyOfBuffer();
        } catch (IOException e) {
            throw new FlinkRuntimeException(
                    "Error while serializing an element of key-group " + keyGroupId + ".", e);
        }
    }

    private T deserializeElement(byte[] key, DataInputDeserializer view) {
        try {
            view.setBuffer(key, keyGroupPrefixBytes, key.length - keyGroupPrefixBytes);
            return byteOrderedElementSerializer.deserialize(view);
        } catch (IOException e) {
            throw new FlinkRuntimeException(
                    "Error while deserializing an element of key-group " + keyGroupId + ".", e);
        }
    }

    // ------------------------------------------------------------------------

    /** Iterates the elements of this key-group in RocksDB in key (i.e. priority) order. */
    private final class KeyGroupElementIterator implements CloseableIterator<T> {

        /** Own view, so that iterating does not interfere with the queue's deserialization. */
        private final DataInputDeserializer iteratorInputView = new DataInputDeserializer();

        /** The native iterator and its read options, or null once closed. */
        @Nullable private BoundedIterator opened;

        private KeyGroupElementIterator(BoundedIterator opened) {
            this.opened = opened;
        }

        @Override
        public boolean hasNext() {
            if (opened == null) {
                return false;
            }
            final RocksIterator current = opened.iterator();
            if (current.isValid() && isKeyOfThisKeyGroup(current.key())) {
                return true;
            }
            try {
                current.status();
            } catch (RocksDBException e) {
                throw new FlinkRuntimeException(
                        "Error while iterating the elements of key-group "
                                + keyGroupId
                                + " in RocksDB.",
                        e);
            } finally {
                close();
            }
            return false;
        }

        @Override
        public T next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            final RocksIterator current = opened.iterator();
            final byte[] key = current.key();
            current.next();
            return deserializeElement(key, iteratorInputView);
        }

        @Override
        public void close() {
            final BoundedIterator current = opened;
            if (current != null) {
                opened = null;
                current.close();
            }
        }
    }
}
