package io.statebackend.incremental.state;

import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Up to {@link #capacity} consecutive RocksDB entries under one prefix, copied from an iterator
 * into one array: a batch costs a few arrays, not two per entry. Entries handed out keep their
 * batch, so a batch is never reused for the next one.
 */
final class MapEntryBatch {

    private final int capacity;
    private final int[] keyOffsets;
    private final int[] keyLengths;
    private final int[] valueOffsets;
    private final int[] valueLengths;
    private final boolean[] removed;
    private byte[] bytes;
    private int used;
    private int size;

    MapEntryBatch(int capacity, int initialBytes) {
        this.capacity = capacity;
        this.keyOffsets = new int[capacity];
        this.keyLengths = new int[capacity];
        this.valueOffsets = new int[capacity];
        this.valueLengths = new int[capacity];
        this.removed = new boolean[capacity];
        this.bytes = new byte[Math.max(16, initialBytes)];
    }

    /**
     * Reads entries from {@code iterator} as long as their keys start with {@code prefix}, until
     * the batch is full. With {@code skip} (the last key of the previous batch, or null) the
     * iterator is first positioned past that key. Returns whether the entries under the prefix
     * ended before the batch was full.
     */
    boolean fill(RocksIterator iterator, byte[] prefix, MapEntryBatch skip)
            throws RocksDBException {
        if (skip == null) {
            iterator.seek(prefix);
        } else {
            int last = skip.size - 1;
            iterator.seek(
                    ByteBuffer.wrap(skip.bytes, skip.keyOffsets[last], skip.keyLengths[last]));
        }
        boolean ended = true;
        boolean first = true;
        while (iterator.isValid()) {
            int keyOffset = used;
            int keyLength = append(iterator, true);
            if (!startsWith(keyOffset, keyLength, prefix)) {
                used = keyOffset;
                break;
            }
            if (first && skip != null && keyEquals(keyOffset, keyLength, skip, skip.size - 1)) {
                // the previous batch's last entry, where the seek landed
                first = false;
                used = keyOffset;
                iterator.next();
                continue;
            }
            first = false;
            if (size == capacity) {
                used = keyOffset;
                ended = false;
                break;
            }
            int valueOffset = used;
            int valueLength = append(iterator, false);
            keyOffsets[size] = keyOffset;
            keyLengths[size] = keyLength;
            valueOffsets[size] = valueOffset;
            valueLengths[size] = valueLength;
            size++;
            iterator.next();
        }
        iterator.status();
        return ended;
    }

    /** Copies the iterator's key or value behind the used bytes; returns its length. */
    private int append(RocksIterator iterator, boolean key) {
        int free = bytes.length - used;
        int length = key ? iterator.key(bytes, used, free) : iterator.value(bytes, used, free);
        if (length > free) {
            bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, used + length));
            length = key ? iterator.key(bytes, used, length) : iterator.value(bytes, used, length);
        }
        used += length;
        return length;
    }

    private boolean startsWith(int offset, int length, byte[] prefix) {
        return length >= prefix.length
                && Arrays.equals(bytes, offset, offset + prefix.length, prefix, 0, prefix.length);
    }

    private boolean keyEquals(int offset, int length, MapEntryBatch other, int index) {
        int otherOffset = other.keyOffsets[index];
        return Arrays.equals(
                bytes,
                offset,
                offset + length,
                other.bytes,
                otherOffset,
                otherOffset + other.keyLengths[index]);
    }

    int size() {
        return size;
    }

    boolean isFull() {
        return size == capacity;
    }

    /** How many bytes the entries took, to size the next batch. */
    int usedBytes() {
        return used;
    }

    byte[] bytes() {
        return bytes;
    }

    int keyOffset(int index) {
        return keyOffsets[index];
    }

    int keyLength(int index) {
        return keyLengths[index];
    }

    int valueOffset(int index) {
        return valueOffsets[index];
    }

    int valueLength(int index) {
        return valueLengths[index];
    }

    boolean isRemoved(int index) {
        return removed[index];
    }

    void markRemoved(int index) {
        removed[index] = true;
    }
}
