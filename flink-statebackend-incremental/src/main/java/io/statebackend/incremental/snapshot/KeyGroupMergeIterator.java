package io.statebackend.incremental.snapshot;

import org.apache.flink.runtime.state.KeyValueStateIterator;
import org.apache.flink.util.IOUtils;

import java.util.List;
import java.util.PriorityQueue;

/**
 * Merges the key-ordered entries of several states into the order of Flink's canonical snapshot
 * format: by key-group, then by state id, then by key.
 */
final class KeyGroupMergeIterator implements KeyValueStateIterator {

    private final PriorityQueue<SingleStateIterator> heap;
    private final List<? extends SingleStateIterator> all;

    private SingleStateIterator current;
    private byte[] currentKey;
    private byte[] currentValue;
    private int currentKeyGroup = -1;
    private int currentStateId = -1;
    private boolean newKeyGroup;
    private boolean newState;

    KeyGroupMergeIterator(List<? extends SingleStateIterator> iterators) {
        this.all = iterators;
        this.heap =
                new PriorityQueue<>(
                        Math.max(1, iterators.size()),
                        (a, b) -> {
                            int byGroup = Integer.compare(a.keyGroup(), b.keyGroup());
                            return byGroup != 0
                                    ? byGroup
                                    : Integer.compare(a.kvStateId(), b.kvStateId());
                        });
        for (SingleStateIterator iterator : iterators) {
            if (iterator.isValid()) {
                heap.add(iterator);
            }
        }
        advance();
    }

    private void advance() {
        if (current != null) {
            current.next();
            if (current.isValid()) {
                heap.add(current);
            }
        }
        current = heap.poll();
        if (current == null) {
            currentKey = null;
            currentValue = null;
            return;
        }
        currentKey = current.key();
        currentValue = current.value();
        int keyGroup = current.keyGroup();
        int stateId = current.kvStateId();
        newKeyGroup = keyGroup != currentKeyGroup;
        newState = newKeyGroup || stateId != currentStateId;
        currentKeyGroup = keyGroup;
        currentStateId = stateId;
    }

    @Override
    public void next() {
        advance();
    }

    @Override
    public int keyGroup() {
        return currentKeyGroup;
    }

    @Override
    public byte[] key() {
        return currentKey;
    }

    @Override
    public byte[] value() {
        return currentValue;
    }

    @Override
    public int kvStateId() {
        return currentStateId;
    }

    @Override
    public boolean isNewKeyValueState() {
        return newState;
    }

    @Override
    public boolean isNewKeyGroup() {
        return newKeyGroup;
    }

    @Override
    public boolean isValid() {
        return currentKey != null;
    }

    @Override
    public void close() {
        for (SingleStateIterator iterator : all) {
            IOUtils.closeQuietly(iterator);
        }
        heap.clear();
    }
}
