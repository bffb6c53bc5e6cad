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

    /** Key offset, key length, value offset and value length of each entry, in turn. */
    private static final int FIELDS = 4;

    private final int capacity;
    private int[] positions;

    /** Allocated by the first removal: most batches never see one. */
    private boolean[] removed;

    private byte[] bytes;
    private int used;
    private int size;

    /**
     * A batch of at most {@code capacity} entries whose arrays start with room for {@code
     * initialEntries} entries and {@code initialBytes} bytes and grow as needed: most map states
     * hold a few entries per key, and zeroing arrays for a full batch cost more than reading them.
     */
    MapEntryBatch(int capacity, int initialEntries, int initialBytes) {
        this.capacity = capacity;
        this.positions = new int[FIELDS * Math.max(1, Math.min(capacity, initialEntries))];
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
            iterator.seek(ByteBuffer.wrap(skip.bytes, skip.keyOffset(last), skip.keyLength(last)));
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
            if (FIELDS * size == positions.length) {
                positions = Arrays.copyOf(positions, FIELDS * Math.min(capacity, 2 * size));
            }
            int at = FIELDS * size;
            positions[at] = keyOffset;
            positions[at + 1] = keyLength;
            positions[at + 2] = valueOffset;
            positions[at + 3] = valueLength;
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
        int otherOffset = other.keyOffset(index);
        return Arrays.equals(
                bytes,
                offset,
                offset + length,
                other.bytes,
                otherOffset,
                otherOffset + other.keyLength(index));
    }

    int size() {
        return size;
    }

    /** How many bytes the entries took, to size the next batch. */
    int usedBytes() {
        return used;
    }

    byte[] bytes() {
        return bytes;
    }

    int keyOffset(int index) {
        return positions[FIELDS * index];
    }

    int keyLength(int index) {
        return positions[FIELDS * index + 1];
    }

    int valueOffset(int index) {
        return positions[FIELDS * index + 2];
    }

    int valueLength(int index) {
        return positions[FIELDS * index + 3];
    }

    boolean isRemoved(int index) {
        return removed != null && removed[index];
    }

    void markRemoved(int index) {
        if (removed == null) {
            removed = new boolean[size];
        }
        removed[index] = true;
    }
}
