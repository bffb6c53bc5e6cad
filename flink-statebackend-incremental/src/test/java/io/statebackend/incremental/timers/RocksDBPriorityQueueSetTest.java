package io.statebackend.incremental.timers;

import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueElement;
import org.apache.flink.runtime.state.heap.KeyGroupPartitionedPriorityQueue;
import org.apache.flink.runtime.state.heap.KeyGroupPartitionedPriorityQueue.PartitionQueueSetFactory;
import org.apache.flink.util.CloseableIterator;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.PerfContext;
import org.rocksdb.PerfLevel;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteOptions;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Tests for {@link RocksDBPriorityQueueSet} against a real RocksDB instance. */
class RocksDBPriorityQueueSetTest {

    private static final byte[] TIMER_CF_NAME = "timers".getBytes(StandardCharsets.UTF_8);

    @TempDir Path tempDir;

    /** Native objects to close after the test, closed in reverse order of registration. */
    private final Deque<AutoCloseable> toClose = new ArrayDeque<>();

    private DBOptions dbOptions;
    private ColumnFamilyOptions columnFamilyOptions;
    private ReadOptions readOptions;
    private WriteOptions writeOptions;
    private RocksDB db;
    private ColumnFamilyHandle timerColumnFamily;

    /** Shared by the queues of a test as by those of a backend; small, to cross many flushes. */
    private TimerWriteBatch writes;

    private List<ColumnFamilyHandle> handlesOfOpenDb = new ArrayList<>();

    @BeforeEach
    void openDb() throws RocksDBException {
        RocksDB.loadLibrary();
        dbOptions =
                register(
                        new DBOptions()
                                .setCreateIfMissing(true)
                                .setCreateMissingColumnFamilies(true));
        columnFamilyOptions = register(new ColumnFamilyOptions());
        readOptions = register(new ReadOptions().setTotalOrderSeek(true));
        writeOptions = register(new WriteOptions().setDisableWAL(true));
        openDbInstance();
    }

    @AfterEach
    void closeAll() throws Exception {
        closeDbInstance();
        while (!toClose.isEmpty()) {
            toClose.pollLast().close();
        }
    }

    private <C extends AutoCloseable> C register(C closeable) {
        toClose.addLast(closeable);
        return closeable;
    }

    private void openDbInstance() throws RocksDBException {
        final List<ColumnFamilyDescriptor> descriptors =
                Arrays.asList(
                        new ColumnFamilyDescriptor(
                                RocksDB.DEFAULT_COLUMN_FAMILY, columnFamilyOptions),
                        new ColumnFamilyDescriptor(TIMER_CF_NAME, columnFamilyOptions));
        final List<ColumnFamilyHandle> handles = new ArrayList<>();
        db = RocksDB.open(dbOptions, tempDir.resolve("db").toString(), descriptors, handles);
        handlesOfOpenDb = handles;
        timerColumnFamily = handles.get(1);
        writes = new TimerWriteBatch(db, writeOptions, 3);
    }

    private void closeDbInstance() {
        if (writes != null) {
            // as a snapshot before the database is closed
            writes.flushUnchecked();
            writes.close();
            writes = null;
        }
        for (ColumnFamilyHandle handle : handlesOfOpenDb) {
            handle.close();
        }
        handlesOfOpenDb = new ArrayList<>();
        if (db != null) {
            db.close();
            db = null;
        }
    }

    private RocksDBPriorityQueueSet<Long> newQueue(
            int keyGroupId, int keyGroupPrefixBytes, int cacheCapacity) {
        return new RocksDBPriorityQueueSet<>(
                keyGroupId,
                keyGroupPrefixBytes,
                db,
                timerColumnFamily,
                readOptions,
                writes,
                SignFlippedLongSerializer.INSTANCE,
                cacheCapacity);
    }

    // ------------------------------------------------------------------------

    @ParameterizedTest(name = "keyGroupPrefixBytes={0}")
    @ValueSource(ints = {1, 2})
    void randomizedOperationsMatchModel(int keyGroupPrefixBytes) throws Exception {
        // neighbouring ids, and ids that differ only in the low byte of a 2-byte prefix
        final int[] keyGroups =
                keyGroupPrefixBytes == 1
                        ? new int[] {0, 1, 2, 127, 128, 255}
                        : new int[] {0, 1, 255, 256, 257, 65535};
        final int cacheCapacity = 4;
        final Random random = new Random(0xC0FFEEL + keyGroupPrefixBytes);

        final Map<Integer, RocksDBPriorityQueueSet<Long>> queues = new HashMap<>();
        final Map<Integer, TreeSet<Long>> models = new HashMap<>();
        for (int keyGroup : keyGroups) {
            queues.put(keyGroup, newQueue(keyGroup, keyGroupPrefixBytes, cacheCapacity));
            models.put(keyGroup, new TreeSet<>());
        }

        int addsThatChangedHead = 0;
        int removesThatChangedHead = 0;
        int restores = 0;
        for (int op = 0; op < 20_000; op++) {
            final int keyGroup = keyGroups[random.nextInt(keyGroups.length)];
            final RocksDBPriorityQueueSet<Long> queue = queues.get(keyGroup);
            final TreeSet<Long> model = models.get(keyGroup);
            final int dice = random.nextInt(100);
            if (dice < 42) {
                final long value = random.nextInt(121) - 60;
                final boolean expectHeadChange =
                        !model.contains(value) && (model.isEmpty() || value < model.first());
                model.add(value);
                final boolean headChanged = queue.add(value);
                assertThat(headChanged)
                        .as("add(%s) at op %s", value, op)
                        .isEqualTo(expectHeadChange);
                if (headChanged) {
                    addsThatChangedHead++;
                }
            } else if (dice < 62) {
                assertThat(queue.poll()).as("poll at op %s", op).isEqualTo(model.pollFirst());
            } else if (dice < 82) {
                final long value;
                if (!model.isEmpty() && random.nextBoolean()) {
                    final Long[] contained = model.toArray(new Long[0]);
                    value = contained[random.nextInt(contained.length)];
                } else {
                    value = random.nextInt(121) - 60;
                }
                final boolean expectHeadChange = model.contains(value) && value == model.first();
                model.remove(value);
                final boolean headChanged = queue.remove(value);
                assertThat(headChanged)
                        .as("remove(%s) at op %s", value, op)
                        .isEqualTo(expectHeadChange);
                if (headChanged) {
                    removesThatChangedHead++;
                }
            } else if (dice < 94) {
                final Long expected = model.isEmpty() ? null : model.first();
                assertThat(queue.peek()).as("peek at op %s", op).isEqualTo(expected);
                assertThat(queue.peek()).as("second peek at op %s", op).isEqualTo(expected);
            } else if (dice < 97) {
                assertThat(queue.size()).as("size at op %s", op).isEqualTo(model.size());
                assertThat(queue.isEmpty()).as("isEmpty at op %s", op).isEqualTo(model.isEmpty());
            } else if (dice < 99) {
                assertThat(drain(queue))
                        .as("iterator at op %s", op)
                        .containsExactlyElementsOf(model);
            } else {
                // restore: fresh queues over the same column family must see the elements
                for (int kg : keyGroups) {
                    queues.put(kg, newQueue(kg, keyGroupPrefixBytes, cacheCapacity));
                }
                restores++;
            }
        }
        assertThat(addsThatChangedHead).isPositive();
        assertThat(removesThatChangedHead).isPositive();
        assertThat(restores).isPositive();

        for (int keyGroup : keyGroups) {
            assertThat(drain(queues.get(keyGroup))).containsExactlyElementsOf(models.get(keyGroup));
            assertThat(queues.get(keyGroup).size()).isEqualTo(models.get(keyGroup).size());
        }
        assertRawContents(keyGroupPrefixBytes, models);

        // finally poll everything empty
        for (int keyGroup : keyGroups) {
            final RocksDBPriorityQueueSet<Long> queue = queues.get(keyGroup);
            final TreeSet<Long> model = models.get(keyGroup);
            while (!model.isEmpty()) {
                assertThat(queue.poll()).isEqualTo(model.pollFirst());
            }
            assertThat(queue.poll()).isNull();
            assertThat(queue.peek()).isNull();
            assertThat(queue.isEmpty()).isTrue();
            assertThat(queue.size()).isZero();
        }
        assertRawContents(keyGroupPrefixBytes, models);
    }

    @Test
    void largeKeyGroupIsPolledInOrderWithSmallCache() {
        final RocksDBPriorityQueueSet<Long> neighbourBelow = newQueue(6, 1, 3);
        final RocksDBPriorityQueueSet<Long> queue = newQueue(7, 1, 3);
        final RocksDBPriorityQueueSet<Long> neighbourAbove = newQueue(8, 1, 3);
        final Random random = new Random(42);
        final TreeSet<Long> model = new TreeSet<>();
        for (int i = 0; i < 5_000; i++) {
            final long value = random.nextLong();
            model.add(value);
            queue.add(value);
            neighbourBelow.add(value);
            neighbourAbove.add(value);
        }
        assertThat(queue.size()).isEqualTo(model.size());
        long previous = Long.MIN_VALUE;
        int polled = 0;
        Long next;
        while ((next = queue.poll()) != null) {
            assertThat(next).isEqualTo(model.pollFirst()).isGreaterThanOrEqualTo(previous);
            previous = next;
            polled++;
        }
        assertThat(polled).isEqualTo(5_000);
        assertThat(model).isEmpty();
        assertThat(neighbourBelow.size()).isEqualTo(5_000);
        assertThat(neighbourAbove.size()).isEqualTo(5_000);
    }

    /**
     * Reads of a key-group stop at its end: the tombstones that polling left at the front of the
     * next key-group are not skipped by a refill, a count or an iterator of this one.
     */
    @ParameterizedTest(name = "keyGroupPrefixBytes={0}")
    @ValueSource(ints = {1, 2})
    void readsDoNotSkipTheTombstonesOfTheNextKeyGroup(int keyGroupPrefixBytes) throws Exception {
        final RocksDBPriorityQueueSet<Long> drained = newQueue(8, keyGroupPrefixBytes, 16);
        for (long i = 0; i < 2_000; i++) {
            drained.add(i);
        }
        while (drained.poll() != null) {
            // leaves 2,000 tombstones at the front of key-group 8
        }
        drained.add(1_000_000L);
        newQueue(7, keyGroupPrefixBytes, 16).addAll(Arrays.asList(3L, 1L, 2L));
        writes.flushUnchecked();

        final RocksDBPriorityQueueSet<Long> queue = newQueue(7, keyGroupPrefixBytes, 16);
        final PerfContext perf = db.getPerfContext();
        db.setPerfLevel(PerfLevel.ENABLE_COUNT);
        try {
            perf.reset();
            assertThat(queue.peek()).isEqualTo(1L);
            assertThat(perf.getInternalDeleteSkippedCount())
                    .as("tombstones skipped by a refill")
                    .isZero();

            perf.reset();
            assertThat(newQueue(7, keyGroupPrefixBytes, 2).size()).isEqualTo(3);
            assertThat(perf.getInternalDeleteSkippedCount())
                    .as("tombstones skipped by size()")
                    .isZero();

            perf.reset();
            final List<Long> iterated = new ArrayList<>();
            try (CloseableIterator<Long> iterator = queue.iterator()) {
                iterator.forEachRemaining(iterated::add);
            }
            assertThat(iterated).containsExactly(1L, 2L, 3L);
            assertThat(perf.getInternalDeleteSkippedCount())
                    .as("tombstones skipped by an iterator")
                    .isZero();
        } finally {
            db.setPerfLevel(PerfLevel.DISABLE);
        }
        assertThat(newQueue(8, keyGroupPrefixBytes, 16).peek()).isEqualTo(1_000_000L);
    }

    @Test
    void lastKeyGroupOfItsPrefixIsReadWithoutBound() {
        final RocksDBPriorityQueueSet<Long> last = newQueue(255, 1, 2);
        last.addAll(Arrays.asList(5L, 4L, 6L));
        newQueue(254, 1, 2).add(1L);
        assertThat(newQueue(255, 1, 2).size()).isEqualTo(3);
        assertThat(last.poll()).isEqualTo(4L);
        assertThat(last.poll()).isEqualTo(5L);
        assertThat(last.poll()).isEqualTo(6L);
        assertThat(last.poll()).isNull();
    }

    @Test
    void nextKeyGroupPrefixIsTheFollowingIdOrNone() {
        assertThat(RocksDBPriorityQueueSet.nextKeyGroupPrefix(0, 1)).containsExactly(1);
        assertThat(RocksDBPriorityQueueSet.nextKeyGroupPrefix(127, 1)).containsExactly(0x80);
        assertThat(RocksDBPriorityQueueSet.nextKeyGroupPrefix(255, 1)).isNull();
        assertThat(RocksDBPriorityQueueSet.nextKeyGroupPrefix(255, 2)).containsExactly(1, 0);
        assertThat(RocksDBPriorityQueueSet.nextKeyGroupPrefix(0x1234, 2))
                .containsExactly(0x12, 0x35);
        assertThat(RocksDBPriorityQueueSet.nextKeyGroupPrefix(0xFFFF, 2)).isNull();
    }

    @Test
    void hasSetSemantics() {
        final RocksDBPriorityQueueSet<Long> queue = newQueue(3, 1, 2);
        assertThat(queue.add(5L)).isTrue();
        assertThat(queue.add(5L)).isFalse();
        assertThat(queue.size()).isEqualTo(1);

        // fill beyond the cache, then add an element that is only in RocksDB again
        assertThat(queue.add(6L)).isFalse();
        assertThat(queue.add(7L)).isFalse();
        assertThat(queue.add(8L)).isFalse();
        assertThat(queue.add(8L)).isFalse();
        assertThat(queue.add(6L)).isFalse();
        assertThat(queue.size()).isEqualTo(4);
        queue.addAll(Arrays.asList(5L, 6L, 7L, 8L, 9L));
        queue.addAll(null);
        assertThat(queue.size()).isEqualTo(5);
        assertThat(drain(queue)).containsExactly(5L, 6L, 7L, 8L, 9L);

        assertThat(queue.poll()).isEqualTo(5L);
        assertThat(queue.poll()).isEqualTo(6L);
        assertThat(queue.poll()).isEqualTo(7L);
        assertThat(queue.poll()).isEqualTo(8L);
        assertThat(queue.poll()).isEqualTo(9L);
        assertThat(queue.poll()).isNull();
    }

    @Test
    void addAndRemoveReportHeadChanges() {
        final RocksDBPriorityQueueSet<Long> queue = newQueue(1, 1, 2);
        assertThat(queue.remove(1L)).as("remove from empty").isFalse();
        assertThat(queue.add(10L)).as("first element").isTrue();
        assertThat(queue.add(20L)).as("greater element").isFalse();
        assertThat(queue.add(30L)).as("element beyond the cache").isFalse();
        assertThat(queue.add(-5L)).as("new smallest element").isTrue();
        assertThat(queue.peek()).isEqualTo(-5L);
        assertThat(queue.add(-5L)).as("duplicate head").isFalse();

        assertThat(queue.remove(20L)).as("remove non-head").isFalse();
        assertThat(queue.remove(25L)).as("remove absent").isFalse();
        assertThat(queue.remove(30L)).as("remove element beyond the cache").isFalse();
        assertThat(queue.remove(-5L)).as("remove head").isTrue();
        assertThat(queue.peek()).isEqualTo(10L);
        assertThat(queue.remove(-5L)).as("remove removed head").isFalse();
        assertThat(queue.remove(10L)).as("remove last element").isTrue();
        assertThat(queue.peek()).isNull();
        assertThat(queue.isEmpty()).isTrue();
        assertThat(queue.size()).isZero();
    }

    @Test
    void peekReturnsTheCachedHeadObjectUntilTheHeadChanges() {
        final RocksDBPriorityQueueSet<Long> queue = newQueue(0, 1, 4);
        queue.add(1000L);
        final Long first = queue.peek();
        assertThat(queue.peek()).isSameAs(first);
        queue.add(2000L);
        assertThat(queue.peek()).isSameAs(first);
        queue.add(500L);
        assertThat(queue.peek()).isEqualTo(500L);
        assertThat(queue.poll()).isEqualTo(500L);
        assertThat(queue.peek()).isEqualTo(1000L);
    }

    @Test
    void sizeCountsElementsOutsideTheCache() {
        final RocksDBPriorityQueueSet<Long> queue = newQueue(2, 2, 3);
        final RocksDBPriorityQueueSet<Long> other = newQueue(3, 2, 3);
        for (long i = 0; i < 10; i++) {
            queue.add(i);
            other.add(i * 7);
        }
        assertThat(queue.size()).isEqualTo(10);
        queue.remove(8L);
        queue.poll();
        assertThat(queue.size()).isEqualTo(8);
        for (int i = 0; i < 8; i++) {
            queue.poll();
        }
        assertThat(queue.size()).isZero();
        assertThat(other.size()).isEqualTo(10);
    }

    @Test
    void iteratorReturnsAllElementsInOrderAndCanBeClosed() throws Exception {
        final RocksDBPriorityQueueSet<Long> queue = newQueue(4, 1, 2);
        newQueue(5, 1, 2).addAll(Arrays.asList(-1L, 0L, 1L));
        newQueue(3, 1, 2).addAll(Arrays.asList(-2L, 2L));

        try (CloseableIterator<Long> empty = queue.iterator()) {
            assertThat(empty.hasNext()).isFalse();
            assertThatThrownBy(empty::next).isInstanceOf(NoSuchElementException.class);
        }

        final List<Long> values = Arrays.asList(17L, -3L, 0L, Long.MAX_VALUE, Long.MIN_VALUE, 4L);
        queue.addAll(values);
        final CloseableIterator<Long> iterator = queue.iterator();
        final List<Long> iterated = new ArrayList<>();
        while (iterator.hasNext()) {
            iterated.add(iterator.next());
        }
        assertThat(iterated).containsExactly(Long.MIN_VALUE, -3L, 0L, 4L, 17L, Long.MAX_VALUE);
        assertThat(iterator.hasNext()).isFalse();
        iterator.close();
        iterator.close();

        // closing before exhaustion
        final CloseableIterator<Long> partial = queue.iterator();
        assertThat(partial.next()).isEqualTo(Long.MIN_VALUE);
        partial.close();
        assertThat(partial.hasNext()).isFalse();

        // iterating does not consume
        assertThat(queue.size()).isEqualTo(6);
        assertThat(queue.poll()).isEqualTo(Long.MIN_VALUE);
    }

    @Test
    void newInstanceSeesRestoredElements() throws Exception {
        final RocksDBPriorityQueueSet<Long> before = newQueue(9, 1, 3);
        for (long i = 20; i > 0; i--) {
            before.add(i * 3);
        }
        before.poll();
        before.remove(30L);

        // a new instance over the same database
        final RocksDBPriorityQueueSet<Long> sameDb = newQueue(9, 1, 3);
        assertThat(sameDb.size()).isEqualTo(18);
        assertThat(sameDb.peek()).isEqualTo(6L);

        // after reopening the database
        writes.flush();
        try (FlushOptions flushOptions = new FlushOptions().setWaitForFlush(true)) {
            db.flush(flushOptions, timerColumnFamily);
        }
        closeDbInstance();
        openDbInstance();
        final RocksDBPriorityQueueSet<Long> restored = newQueue(9, 1, 3);
        assertThat(restored.isEmpty()).isFalse();
        assertThat(restored.add(3L)).isTrue();
        assertThat(restored.add(6L)).isFalse();
        final List<Long> polled = new ArrayList<>();
        Long next;
        while ((next = restored.poll()) != null) {
            polled.add(next);
        }
        final List<Long> expected = new ArrayList<>();
        for (long i = 1; i <= 20; i++) {
            if (i != 10) {
                expected.add(i * 3);
            }
        }
        assertThat(polled).containsExactlyElementsOf(expected);
    }

    @Test
    void storesElementsAsKeyGroupPrefixedKeysWithEmptyValues() throws Exception {
        newQueue(0x0102, 2, 4).addAll(Arrays.asList(1L, -1L));
        newQueue(0x7F, 1, 4).add(0L);

        final List<byte[]> keys = new ArrayList<>();
        writes.flush();
        try (RocksIterator iterator = db.newIterator(timerColumnFamily, readOptions)) {
            for (iterator.seekToFirst(); iterator.isValid(); iterator.next()) {
                keys.add(iterator.key());
                assertThat(iterator.value()).isEmpty();
            }
            iterator.status();
        }
        assertThat(keys)
                .containsExactly(
                        // key-group 0x0102 (2 bytes) sorts before 0x7F (1 byte) by first byte
                        concat(new byte[] {0x01, 0x02}, SignFlippedLongSerializer.bytes(-1L)),
                        concat(new byte[] {0x01, 0x02}, SignFlippedLongSerializer.bytes(1L)),
                        concat(new byte[] {0x7F}, SignFlippedLongSerializer.bytes(0L)));
    }

    @Test
    void worksAsSubQueueOfKeyGroupPartitionedPriorityQueue() throws Exception {
        final int totalKeyGroups = 16;
        final KeyGroupRange range = KeyGroupRange.of(0, totalKeyGroups - 1);
        final PartitionQueueSetFactory<Long, RocksDBPriorityQueueSet<Long>> factory =
                (keyGroupId, numKeyGroups, keyExtractor, comparator) -> newQueue(keyGroupId, 1, 4);
        final KeyGroupPartitionedPriorityQueue<Long, RocksDBPriorityQueueSet<Long>> queue =
                new KeyGroupPartitionedPriorityQueue<>(
                        element -> element, Long::compare, factory, range, totalKeyGroups);
        final TreeSet<Long> model = new TreeSet<>();
        final Random random = new Random(7);
        for (int op = 0; op < 10_000; op++) {
            final int dice = random.nextInt(10);
            if (dice < 5) {
                final long value = random.nextInt(2000) - 1000;
                final boolean expectHeadChange =
                        !model.contains(value) && (model.isEmpty() || value < model.first());
                model.add(value);
                assertThat(queue.add(value)).isEqualTo(expectHeadChange);
            } else if (dice < 7) {
                final long value = random.nextInt(2000) - 1000;
                final boolean expectHeadChange = !model.isEmpty() && model.first() == value;
                model.remove(value);
                assertThat(queue.remove(value)).isEqualTo(expectHeadChange);
            } else {
                assertThat(queue.poll()).isEqualTo(model.pollFirst());
            }
            assertThat(queue.peek()).isEqualTo(model.isEmpty() ? null : model.first());
        }
        assertThat(queue.size()).isEqualTo(model.size());
        for (int keyGroup = 0; keyGroup < totalKeyGroups; keyGroup++) {
            final TreeSet<Long> expected = new TreeSet<>();
            for (Long value : model) {
                if (KeyGroupRangeAssignment.assignToKeyGroup(value, totalKeyGroups) == keyGroup) {
                    expected.add(value);
                }
            }
            assertThat(queue.getSubsetForKeyGroup(keyGroup)).isEqualTo(expected);
        }
        while (!model.isEmpty()) {
            assertThat(queue.poll()).isEqualTo(model.pollFirst());
        }
        assertThat(queue.isEmpty()).isTrue();
    }

    @Test
    void internalIndexIsStored() {
        final RocksDBPriorityQueueSet<Long> queue = newQueue(0, 1, 1);
        assertThat(queue.getInternalIndex()).isEqualTo(HeapPriorityQueueElement.NOT_CONTAINED);
        queue.setInternalIndex(3);
        assertThat(queue.getInternalIndex()).isEqualTo(3);
    }

    // ------------------------------------------------------------------------

    private static List<Long> drain(RocksDBPriorityQueueSet<Long> queue) {
        final List<Long> result = new ArrayList<>();
        try (CloseableIterator<Long> iterator = queue.iterator()) {
            while (iterator.hasNext()) {
                result.add(iterator.next());
            }
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        return result;
    }

    /** Checks that the column family holds exactly the model's elements, in the canonical form. */
    private void assertRawContents(int keyGroupPrefixBytes, Map<Integer, TreeSet<Long>> models)
            throws RocksDBException {
        final List<byte[]> expected = new ArrayList<>();
        for (Map.Entry<Integer, TreeSet<Long>> entry : models.entrySet()) {
            final byte[] prefix = new byte[keyGroupPrefixBytes];
            for (int i = 0; i < keyGroupPrefixBytes; i++) {
                prefix[i] = (byte) (entry.getKey() >>> (8 * (keyGroupPrefixBytes - 1 - i)));
            }
            for (long value : entry.getValue()) {
                expected.add(concat(prefix, SignFlippedLongSerializer.bytes(value)));
            }
        }
        expected.sort(Arrays::compareUnsigned);

        final List<byte[]> actual = new ArrayList<>();
        writes.flush();
        try (RocksIterator iterator = db.newIterator(timerColumnFamily, readOptions)) {
            for (iterator.seekToFirst(); iterator.isValid(); iterator.next()) {
                actual.add(iterator.key());
                assertThat(iterator.value()).isEmpty();
            }
            iterator.status();
        }
        assertThat(actual).containsExactlyElementsOf(expected);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        final byte[] result = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, result, a.length, b.length);
        return result;
    }

    /**
     * A byte-ordered serializer for longs: big-endian with the sign bit flipped, so that the
     * unsigned lexicographic order of the bytes is the signed order of the values.
     */
    static final class SignFlippedLongSerializer extends TypeSerializerSingleton<Long> {

        private static final long serialVersionUID = 1L;

        static final SignFlippedLongSerializer INSTANCE = new SignFlippedLongSerializer();

        static byte[] bytes(long value) {
            return ByteBuffer.allocate(Long.BYTES).putLong(value ^ Long.MIN_VALUE).array();
        }

        @Override
        public boolean isImmutableType() {
            return true;
        }

        @Override
        public Long createInstance() {
            return 0L;
        }

        @Override
        public Long copy(Long from) {
            return from;
        }

        @Override
        public Long copy(Long from, Long reuse) {
            return from;
        }

        @Override
        public int getLength() {
            return Long.BYTES;
        }

        @Override
        public void serialize(Long record, DataOutputView target) throws IOException {
            target.writeLong(record ^ Long.MIN_VALUE);
        }

        @Override
        public Long deserialize(DataInputView source) throws IOException {
            return source.readLong() ^ Long.MIN_VALUE;
        }

        @Override
        public Long deserialize(Long reuse, DataInputView source) throws IOException {
            return deserialize(source);
        }

        @Override
        public void copy(DataInputView source, DataOutputView target) throws IOException {
            target.writeLong(source.readLong());
        }

        @Override
        public TypeSerializerSnapshot<Long> snapshotConfiguration() {
            return new Snapshot();
        }

        /** Snapshot of {@link SignFlippedLongSerializer}. */
        public static final class Snapshot extends SimpleTypeSerializerSnapshot<Long> {
            public Snapshot() {
                super(() -> INSTANCE);
            }
        }
    }
}
