package io.statebackend.incremental.lifecycle;

import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.apache.flink.runtime.state.Keyed;
import org.apache.flink.runtime.state.PriorityComparable;
import org.apache.flink.runtime.state.heap.AbstractHeapPriorityQueueElement;

import java.io.IOException;
import java.util.Objects;

/**
 * A timer-like priority queue element for tests: a key and a timestamp, ordered by timestamp. Its
 * serializer is byte-ordered (sign-flipped big-endian timestamp first), as RocksDB timer queues
 * require.
 */
final class TestTimer extends AbstractHeapPriorityQueueElement
        implements Keyed<Long>, PriorityComparable<TestTimer> {

    private final long key;
    private final long timestamp;

    TestTimer(long key, long timestamp) {
        this.key = key;
        this.timestamp = timestamp;
    }

    @Override
    public Long getKey() {
        return key;
    }

    long getTimestamp() {
        return timestamp;
    }

    @Override
    public int comparePriorityTo(TestTimer other) {
        return Long.compare(timestamp, other.timestamp);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof TestTimer)) {
            return false;
        }
        TestTimer other = (TestTimer) o;
        return key == other.key && timestamp == other.timestamp;
    }

    @Override
    public int hashCode() {
        return Objects.hash(key, timestamp);
    }

    @Override
    public String toString() {
        return "TestTimer{key=" + key + ", timestamp=" + timestamp + '}';
    }

    /** Byte-ordered serializer of {@link TestTimer}. */
    static final class Serializer extends TypeSerializerSingleton<TestTimer> {

        private static final long serialVersionUID = 1L;

        static final Serializer INSTANCE = new Serializer();

        @Override
        public boolean isImmutableType() {
            return true;
        }

        @Override
        public TestTimer createInstance() {
            return new TestTimer(0L, 0L);
        }

        @Override
        public TestTimer copy(TestTimer from) {
            return from;
        }

        @Override
        public TestTimer copy(TestTimer from, TestTimer reuse) {
            return from;
        }

        @Override
        public int getLength() {
            return 2 * Long.BYTES;
        }

        @Override
        public void serialize(TestTimer record, DataOutputView target) throws IOException {
            target.writeLong(record.timestamp ^ Long.MIN_VALUE);
            target.writeLong(record.key ^ Long.MIN_VALUE);
        }

        @Override
        public TestTimer deserialize(DataInputView source) throws IOException {
            long timestamp = source.readLong() ^ Long.MIN_VALUE;
            long key = source.readLong() ^ Long.MIN_VALUE;
            return new TestTimer(key, timestamp);
        }

        @Override
        public TestTimer deserialize(TestTimer reuse, DataInputView source) throws IOException {
            return deserialize(source);
        }

        @Override
        public void copy(DataInputView source, DataOutputView target) throws IOException {
            target.write(source, 2 * Long.BYTES);
        }

        @Override
        public TypeSerializerSnapshot<TestTimer> snapshotConfiguration() {
            return new Snapshot();
        }

        /** Snapshot of {@link Serializer}. */
        public static final class Snapshot extends SimpleTypeSerializerSnapshot<TestTimer> {
            public Snapshot() {
                super(() -> INSTANCE);
            }
        }
    }
}
