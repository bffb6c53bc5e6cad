package io.statebackend.incremental.restore;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.runtime.state.KeyExtractorFunction;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.RegisteredPriorityQueueStateBackendMetaInfo;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueElement;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSet;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSetFactory;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSnapshotRestoreWrapper;

import java.io.IOException;
import java.util.Map;

/**
 * Puts timers that were written in the RocksDB layout ({@code [key-group][element]}) into a heap
 * timer queue, for backends whose timers are configured to live on the heap now.
 */
final class HeapTimerRestore {

    private HeapTimerRestore() {}

    /** Adds one serialized timer, a key in the RocksDB layout, to the heap queue. */
    interface TimerSink {
        void add(byte[] key) throws IOException;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    static TimerSink sinkFor(
            Map<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> heapQueues,
            RegisteredPriorityQueueStateBackendMetaInfo<?> metaInfo,
            KeyGroupRange keyGroupRange,
            int numberOfKeyGroups,
            int keyGroupPrefixBytes) {
        HeapPriorityQueueSnapshotRestoreWrapper wrapper = heapQueues.get(metaInfo.getName());
        if (wrapper == null) {
            HeapPriorityQueueSet queue =
                    new HeapPriorityQueueSetFactory(keyGroupRange, numberOfKeyGroups, 128)
                            .create(
                                    metaInfo.getName(),
                                    (TypeSerializer) metaInfo.getElementSerializer());
            wrapper =
                    new HeapPriorityQueueSnapshotRestoreWrapper(
                            queue,
                            metaInfo,
                            KeyExtractorFunction.forKeyedObjects(),
                            keyGroupRange,
                            numberOfKeyGroups);
            heapQueues.put(metaInfo.getName(), wrapper);
        }
        final HeapPriorityQueueSet<HeapPriorityQueueElement> queue = wrapper.getPriorityQueue();
        final TypeSerializer<HeapPriorityQueueElement> serializer =
                (TypeSerializer<HeapPriorityQueueElement>) metaInfo.getElementSerializer();
        final DataInputDeserializer in = new DataInputDeserializer();
        return key -> {
            in.setBuffer(key, keyGroupPrefixBytes, key.length - keyGroupPrefixBytes);
            queue.add(serializer.deserialize(in));
        };
    }
}
