package io.statebackend.incremental.snapshot;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueStateSnapshot;
import org.apache.flink.util.FlinkRuntimeException;

import java.io.IOException;
import java.util.Collections;
import java.util.Iterator;

/**
 * The elements of a timer queue kept on the heap, in the layout the RocksDB queue uses: {@code
 * [key-group][element]} with an empty value. Within a key-group the snapshot is unordered, which
 * the canonical format allows for timers.
 */
final class HeapQueueStateIterator<T> implements SingleStateIterator {

    private static final byte[] EMPTY = new byte[0];

    private final HeapPriorityQueueStateSnapshot<T> snapshot;
    private final TypeSerializer<T> serializer;
    private final KeyGroupRange keyGroupRange;
    private final int keyGroupPrefixBytes;
    private final int kvStateId;
    private final DataOutputSerializer output = new DataOutputSerializer(64);

    private int keyGroupIndex = -1;
    private int keyGroup;
    private Iterator<T> elements = Collections.emptyIterator();
    private byte[] key;

    HeapQueueStateIterator(
            HeapPriorityQueueStateSnapshot<T> snapshot,
            KeyGroupRange keyGroupRange,
            int keyGroupPrefixBytes,
            int kvStateId) {
        this.snapshot = snapshot;
        this.serializer = snapshot.getMetaInfo().getElementSerializer().duplicate();
        this.keyGroupRange = keyGroupRange;
        this.keyGroupPrefixBytes = keyGroupPrefixBytes;
        this.kvStateId = kvStateId;
        next();
    }

    @Override
    public boolean isValid() {
        return key != null;
    }

    @Override
    public void next() {
        while (!elements.hasNext()) {
            keyGroupIndex++;
            if (keyGroupIndex >= keyGroupRange.getNumberOfKeyGroups()) {
                key = null;
                return;
            }
            keyGroup = keyGroupRange.getStartKeyGroup() + keyGroupIndex;
            elements = snapshot.getIteratorForKeyGroup(keyGroup);
        }
        try {
            output.clear();
            CompositeKeySerializationUtils.writeKeyGroup(keyGroup, keyGroupPrefixBytes, output);
            serializer.serialize(elements.next(), output);
            key = output.getCopyOfBuffer();
        } catch (IOException e) {
            throw new FlinkRuntimeException("Could not serialize a timer for a snapshot", e);
        }
    }

    @Override
    public byte[] key() {
        return key;
    }

    @Override
    public byte[] value() {
        return EMPTY;
    }

    @Override
    public int keyGroup() {
        return keyGroup;
    }

    @Override
    public int kvStateId() {
        return kvStateId;
    }

    @Override
    public void close() {}
}
