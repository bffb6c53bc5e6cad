package io.statebackend.incremental.timers;

import org.apache.flink.util.Preconditions;

import java.util.Arrays;

/**
 * A small sorted set of serialized keys in unsigned lexicographic order (RocksDB's bytewise order),
 * kept in one array: the first and last key are array reads, where a tree walks a path of nodes for
 * each; a timer queue looks at its first key on every operation of the key-group heap above it.
 * Insertions and removals in the middle shift at most the set's size of references.
 *
 * <p>Holds at most {@code capacity + 1} keys (a queue adds one before it evicts the last).
 */
final class SortedKeyCache {

    private final byte[][] keys;
    private final int maxSize;

    /** The keys are {@code keys[from..to)}; polling the first only moves {@code from}. */
    private int from;

    private int to;

    SortedKeyCache(int capacity) {
        Preconditions.checkArgument(capacity > 0, "Capacity must be positive: %s", capacity);
        this.maxSize = capacity + 1;
        // room to poll at the front for a while before the keys are moved back to the start
        this.keys = new byte[2 * maxSize][];
    }

    boolean isEmpty() {
        return from == to;
    }

    int size() {
        return to - from;
    }

    byte[] first() {
        checkNotEmpty();
        return keys[from];
    }

    byte[] last() {
        checkNotEmpty();
        return keys[to - 1];
    }

    byte[] pollFirst() {
        checkNotEmpty();
        byte[] first = keys[from];
        keys[from++] = null;
        if (from == to) {
            from = 0;
            to = 0;
        }
        return first;
    }

    byte[] pollLast() {
        checkNotEmpty();
        byte[] last = keys[--to];
        keys[to] = null;
        if (from == to) {
            from = 0;
            to = 0;
        }
        return last;
    }

    boolean contains(byte[] key) {
        return indexOf(key) >= 0;
    }

    /** Adds the key unless an equal one is there; returns whether it was added. */
    boolean add(byte[] key) {
        int index = indexOf(key);
        if (index >= 0) {
            return false;
        }
        Preconditions.checkState(size() < maxSize, "The cache is full.");
        int insertAt = -index - 1;
        if (to == keys.length) {
            // move the keys back to the start of the array
            int size = to - from;
            insertAt -= from;
            System.arraycopy(keys, from, keys, 0, size);
            Arrays.fill(keys, size, to, null);
            from = 0;
            to = size;
        }
        System.arraycopy(keys, insertAt, keys, insertAt + 1, to - insertAt);
        keys[insertAt] = key;
        to++;
        return true;
    }

    /** Removes the key equal to the given one; returns whether there was one. */
    boolean remove(byte[] key) {
        int index = indexOf(key);
        if (index < 0) {
            return false;
        }
        System.arraycopy(keys, index + 1, keys, index, to - index - 1);
        keys[--to] = null;
        if (from == to) {
            from = 0;
            to = 0;
        }
        return true;
    }

    /** The key's index if present, else {@code -(insertion index) - 1}. */
    private int indexOf(byte[] key) {
        int low = from;
        int high = to - 1;
        while (low <= high) {
            int middle = (low + high) >>> 1;
            int order = Arrays.compareUnsigned(keys[middle], key);
            if (order < 0) {
                low = middle + 1;
            } else if (order > 0) {
                high = middle - 1;
            } else {
                return middle;
            }
        }
        return -(low + 1);
    }

    private void checkNotEmpty() {
        if (from == to) {
            throw new java.util.NoSuchElementException();
        }
    }
}
