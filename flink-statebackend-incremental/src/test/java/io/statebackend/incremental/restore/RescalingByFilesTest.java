package io.statebackend.incremental.restore;

import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.KeyedBackends;
import io.statebackend.incremental.testutils.RottenBlocks;
import io.statebackend.incremental.testutils.TestStreamFactories;

import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.state.AggregatingStateDescriptor;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ReducingStateDescriptor;
import org.apache.flink.api.common.state.State;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.state.KeyGroupedInternalPriorityQueue;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SharedStateRegistry;
import org.apache.flink.runtime.state.SharedStateRegistryImpl;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;
import org.apache.flink.runtime.testutils.statemigration.TestType;
import org.apache.flink.testutils.logging.LoggerAuditingExtension;
import org.apache.flink.util.CloseableIterator;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rocksdb.Options;
import org.rocksdb.PerfContext;
import org.rocksdb.PerfLevel;
import org.rocksdb.RocksDB;
import org.slf4j.event.Level;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Rescaling restores by moving SST files (export, import, clip), with the fallback to copying
 * entries: exact for every kind of state and both timer services, in every direction.
 */
class RescalingByFilesTest {

    private static final int MAX_PARALLELISM = IncrementalTestHarness.MAX_PARALLELISM;
    private static final KeyGroupRange ALL = new KeyGroupRange(0, MAX_PARALLELISM - 1);
    private static final int KEYS = 2000;
    private static final String TIMERS = "timers";

    private static final ValueStateDescriptor<String> VALUE =
            new ValueStateDescriptor<>("value", StringSerializer.INSTANCE);
    private static final ListStateDescriptor<Long> LIST =
            new ListStateDescriptor<>("list", LongSerializer.INSTANCE);
    private static final MapStateDescriptor<Integer, String> MAP =
            new MapStateDescriptor<>("map", IntSerializer.INSTANCE, StringSerializer.INSTANCE);
    private static final ReducingStateDescriptor<Long> REDUCING =
            new ReducingStateDescriptor<>("reducing", Long::sum, LongSerializer.INSTANCE);
    private static final AggregatingStateDescriptor<Long, Long, Long> AGGREGATING =
            new AggregatingStateDescriptor<>("aggregating", new Sum(), LongSerializer.INSTANCE);

    @RegisterExtension
    final LoggerAuditingExtension restoreLog =
            new LoggerAuditingExtension(RescalingRestore.class, Level.INFO);

    @TempDir Path tempDir;

    private MockEnvironment env;
    private CheckpointStreamFactory factory;
    private final SharedStateRegistry registry = new SharedStateRegistryImpl();
    private final List<IncrementalRocksDBKeyedStateBackend<Integer>> backends = new ArrayList<>();
    private final Map<String, String> settings = new HashMap<>();
    private final Map<
                    IncrementalRocksDBKeyedStateBackend<Integer>,
                    KeyGroupedInternalPriorityQueue<TestType>>
            queues = new IdentityHashMap<>();
    private PriorityQueueStateType timerService = PriorityQueueStateType.ROCKSDB;
    private long nextCheckpointId = 1;

    @BeforeEach
    void setUp() throws Exception {
        env = MockEnvironment.builder().build();
        factory = TestStreamFactories.files(tempDir.resolve("storage"));
    }

    @AfterEach
    void tearDown() throws Exception {
        for (IncrementalRocksDBKeyedStateBackend<Integer> backend : backends) {
            backend.dispose();
        }
        env.close();
    }

    static Stream<Arguments> directions() {
        List<Arguments> arguments = new ArrayList<>();
        int[][] directions = {{1, 2}, {2, 1}, {2, 3}, {3, 2}};
        for (int[] direction : directions) {
            for (PriorityQueueStateType timers : PriorityQueueStateType.values()) {
                for (boolean moveFiles : new boolean[] {true, false}) {
                    arguments.add(Arguments.of(direction[0], direction[1], timers, moveFiles));
                }
            }
        }
        return arguments.stream();
    }

    @ParameterizedTest(name = "{0} -> {1}, {2} timers, moving files: {3}")
    @MethodSource("directions")
    void rescalesExactly(int from, int to, PriorityQueueStateType timers, boolean moveFiles)
            throws Exception {
        settings.put(
                IncrementalRocksDBConfigurableOptions.USE_INGEST_DB_RESTORE_MODE.key(),
                String.valueOf(moveFiles));
        // heap timers are not in RocksDB's files: the snapshots hold RocksDB timers, which a
        // backend with heap timers moves onto the heap
        List<KeyedStateHandle> handles = new ArrayList<>();
        for (int i = 0; i < from; i++) {
            IncrementalRocksDBKeyedStateBackend<Integer> source =
                    backend(range(from, i), List.of());
            writeAll(source, range(from, i), "");
            handles.add(checkpoint(source));
            dispose(source);
        }
        timerService = timers;
        for (int i = 0; i < to; i++) {
            KeyGroupRange range = range(to, i);
            IncrementalRocksDBKeyedStateBackend<Integer> restored =
                    backend(range, overlapping(handles, range));
            assertExact(restored, range, "");
            assertThat(restored.getInstanceDirectory().list()).containsExactly("db");
            assertThat(restored.getRegisteredStateNames().contains(TIMERS))
                    .isEqualTo(timers == PriorityQueueStateType.ROCKSDB);
        }
        if (moveFiles) {
            assertThat(restoreLog.getMessages()).noneMatch(m -> m.contains("by copying entries"));
        } else {
            assertThat(restoreLog.getMessages()).anyMatch(m -> m.contains("moving files is off"));
        }
    }

    @Test
    void valuesInBlobFilesAreCopiedNotImported() throws Exception {
        settings.put(
                IncrementalRocksDBConfigurableOptions.USE_INGEST_DB_RESTORE_MODE.key(), "true");
        settings.put(IncrementalRocksDBOptions.BLOB_FILES_ENABLED.key(), "true");
        settings.put(IncrementalRocksDBOptions.BLOB_FILES_MIN_VALUE_SIZE.key(), "0b");
        List<KeyedStateHandle> handles = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            IncrementalRocksDBKeyedStateBackend<Integer> source = backend(range(2, i), List.of());
            writeAll(source, range(2, i), "");
            IncrementalRemoteKeyedStateHandle handle = checkpoint(source);
            // blob files are immutable like SST files, so they are shared state
            assertThat(handle.getSharedState())
                    .anyMatch(file -> file.getLocalPath().endsWith(".blob"));
            handles.add(handle);
            dispose(source);
        }
        IncrementalRocksDBKeyedStateBackend<Integer> restored = backend(ALL, handles);
        assertExact(restored, ALL, "");
        assertThat(restoreLog.getMessages())
                .anyMatch(m -> m.contains("by copying entries") && m.contains("blob files"));
    }

    @Test
    void snapshotWithKeysOutsideItsClaimedRangeIsCopiedAndExact() throws Exception {
        // the data of all key groups, but a handle that claims only the lower half
        IncrementalRocksDBKeyedStateBackend<Integer> wide = backend(ALL, List.of());
        writeAll(wide, ALL, "wide");
        IncrementalRemoteKeyedStateHandle wideHandle = checkpoint(wide);
        dispose(wide);
        KeyGroupRange lower = new KeyGroupRange(0, 63);
        KeyGroupRange upper = new KeyGroupRange(64, MAX_PARALLELISM - 1);
        IncrementalRemoteKeyedStateHandle narrowed = claiming(wideHandle, lower);

        IncrementalRocksDBKeyedStateBackend<Integer> other = backend(upper, List.of());
        writeAll(other, upper, "other");
        IncrementalRemoteKeyedStateHandle otherHandle = checkpoint(other);
        dispose(other);

        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                backend(ALL, List.of(narrowed, otherHandle));
        assertExact(restored, lower, "wide");
        assertExact(restored, upper, "other");
        assertThat(keysOf(restored, VALUE.getName())).isEqualTo(keysIn(ALL));
        assertThat(restoreLog.getMessages())
                .anyMatch(
                        m ->
                                m.contains("key groups [0, 63] of checkpoint")
                                        && m.contains("by copying entries")
                                        && m.contains("outside the key groups"))
                .anyMatch(m -> m.contains("moving the files of 1 and copying the entries of 1"));
    }

    @Test
    void rangeTombstonesInsideTheClaimedRangeMoveWithTheFiles() throws Exception {
        KeyGroupRange lower = new KeyGroupRange(0, 63);
        KeyGroupRange upper = new KeyGroupRange(64, MAX_PARALLELISM - 1);
        List<KeyedStateHandle> handles = new ArrayList<>();
        for (KeyGroupRange range : List.of(lower, upper)) {
            IncrementalRocksDBKeyedStateBackend<Integer> source = backend(range, List.of());
            writeAll(source, range, "");
            // delete key groups [start + 4, start + 8) of every state with a range tombstone
            deleteKeyGroups(source, range.getStartKeyGroup() + 4, range.getStartKeyGroup() + 8);
            handles.add(checkpoint(source));
            dispose(source);
        }
        IncrementalRocksDBKeyedStateBackend<Integer> restored = backend(ALL, handles);
        Set<Integer> expected = new TreeSet<>();
        for (int key : keysIn(ALL)) {
            int keyGroup = keyGroupOf(key);
            int offset = keyGroup < 64 ? keyGroup : keyGroup - 64;
            if (offset < 4 || offset >= 8) {
                expected.add(key);
            }
        }
        assertThat(keysOf(restored, VALUE.getName())).isEqualTo(expected);
        assertThat(keysOf(restored, MAP.getName())).isEqualTo(expected);
        for (int key : expected) {
            assertThat(value(restored, key)).isEqualTo("v-" + key);
        }
        assertThat(restoreLog.getMessages()).noneMatch(m -> m.contains("by copying entries"));
    }

    @Test
    void rangeTombstonesBeyondTheClaimedRangeTakeTheFallback() throws Exception {
        KeyGroupRange lower = new KeyGroupRange(0, 63);
        KeyGroupRange upper = new KeyGroupRange(64, MAX_PARALLELISM - 1);
        IncrementalRocksDBKeyedStateBackend<Integer> first = backend(lower, List.of());
        writeAll(first, lower, "");
        // a tombstone that reaches into key groups another snapshot claims
        deleteKeyGroups(first, 60, 70);
        IncrementalRemoteKeyedStateHandle firstHandle = checkpoint(first);
        dispose(first);
        IncrementalRocksDBKeyedStateBackend<Integer> second = backend(upper, List.of());
        writeAll(second, upper, "");
        IncrementalRemoteKeyedStateHandle secondHandle = checkpoint(second);
        dispose(second);

        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                backend(ALL, List.of(firstHandle, secondHandle));
        Set<Integer> expected = new TreeSet<>();
        for (int key : keysIn(ALL)) {
            if (keyGroupOf(key) < 60 || keyGroupOf(key) >= 64) {
                expected.add(key);
            }
        }
        assertThat(keysOf(restored, VALUE.getName())).isEqualTo(expected);
        for (int key : expected) {
            assertThat(value(restored, key)).isEqualTo("v-" + key);
        }
        assertThat(restoreLog.getMessages())
                .anyMatch(
                        m -> m.contains("key groups [0, 63]") && m.contains("by copying entries"));
    }

    @Test
    void statesOfOnlySomeSnapshotsAreRestored() throws Exception {
        KeyGroupRange lower = new KeyGroupRange(0, 63);
        KeyGroupRange upper = new KeyGroupRange(64, MAX_PARALLELISM - 1);
        IncrementalRocksDBKeyedStateBackend<Integer> first = backend(lower, List.of());
        writeAll(first, lower, "");
        IncrementalRemoteKeyedStateHandle firstHandle = checkpoint(first);
        dispose(first);
        // the other snapshot has only the value state
        IncrementalRocksDBKeyedStateBackend<Integer> second = backend(upper, List.of());
        for (int key : keysIn(upper)) {
            second.setCurrentKey(key);
            state(second, VALUE).update("v-" + key);
        }
        IncrementalRemoteKeyedStateHandle secondHandle = checkpoint(second);
        dispose(second);

        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                backend(ALL, List.of(firstHandle, secondHandle));
        assertThat(keysOf(restored, VALUE.getName())).isEqualTo(keysIn(ALL));
        assertThat(keysOf(restored, MAP.getName())).isEqualTo(keysIn(lower));
        assertExact(restored, lower, "");
    }

    @Test
    void failureInTheSecondSnapshotLeavesNothingBehind() throws Exception {
        KeyGroupRange lower = new KeyGroupRange(0, 63);
        KeyGroupRange upper = new KeyGroupRange(64, MAX_PARALLELISM - 1);
        List<KeyedStateHandle> handles = new ArrayList<>();
        for (KeyGroupRange range : List.of(lower, upper)) {
            IncrementalRocksDBKeyedStateBackend<Integer> source = backend(range, List.of());
            writeAll(source, range, "");
            handles.add(checkpoint(source));
            dispose(source);
        }
        HandleAndLocalPath sst =
                ((IncrementalRemoteKeyedStateHandle) handles.get(1))
                        .getSharedState().stream()
                                .filter(f -> f.getLocalPath().endsWith(".sst"))
                                .findFirst()
                                .orElseThrow();
        Path stored = Path.of(((FileStateHandle) sst.getHandle()).getFilePath().toUri());
        byte[] bytes = Files.readAllBytes(stored);
        bytes[bytes.length / 2] ^= 0x01;
        Files.write(stored, bytes);

        int openBefore = RocksDBInstance.openInstances();
        assertThatThrownBy(() -> backend(ALL, handles))
                .hasStackTraceContaining("File '" + sst.getLocalPath() + "' of checkpoint")
                .hasStackTraceContaining("is corrupted");
        assertThat(RocksDBInstance.openInstances()).isEqualTo(openBefore);
        assertThat(TestStreamFactories.filesBelow(tempDir.resolve("local"))).isEmpty();
        File[] left = tempDir.resolve("local").toFile().listFiles();
        assertThat(left == null ? List.of() : Arrays.asList(left)).isEmpty();
    }

    @Test
    void firstCheckpointAfterScalingOutUploadsAboutHalf() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> source = backend(ALL, List.of());
        char[] filler = new char[200];
        for (int key = 0; key < 20_000; key++) {
            Arrays.fill(filler, (char) ('a' + key % 26));
            source.setCurrentKey(key);
            state(source, VALUE).update(key + new String(filler));
        }
        IncrementalRemoteKeyedStateHandle handle = checkpoint(source);
        dispose(source);
        long original = handle.getStateSize();

        for (int i = 0; i < 2; i++) {
            KeyGroupRange half = range(2, i);
            IncrementalRocksDBKeyedStateBackend<Integer> restored = backend(half, List.of(handle));
            // the other half is deleted at once and removed from the files in the background
            assertThat(keysOf(restored, VALUE.getName()))
                    .allMatch(key -> half.contains(keyGroupOf(key)));
            restored.getRocksDBInstance().awaitBackgroundWork();
            IncrementalRemoteKeyedStateHandle first = checkpoint(restored);
            assertThat(first.getCheckpointedSize()).isLessThan((long) (0.6 * original));
            dispose(restored);
        }
    }

    @Test
    void compactionAfterRescaleRunsInTheBackgroundAndStopsWithTheBackend() throws Exception {
        settings.put(
                IncrementalRocksDBConfigurableOptions
                        .INCREMENTAL_RESTORE_ASYNC_COMPACT_AFTER_RESCALE
                        .key(),
                "true");
        settings.put(
                IncrementalRocksDBConfigurableOptions.USE_DELETE_FILES_IN_RANGE_DURING_RESCALING
                        .key(),
                "true");
        IncrementalRocksDBKeyedStateBackend<Integer> source = backend(ALL, List.of());
        writeAll(source, ALL, "");
        IncrementalRemoteKeyedStateHandle handle = checkpoint(source);
        dispose(source);
        int openBefore = RocksDBInstance.openInstances();
        KeyGroupRange half = range(2, 1);
        IncrementalRocksDBKeyedStateBackend<Integer> restored = backend(half, List.of(handle));
        assertExact(restored, half, "");
        dispose(restored);
        assertThat(RocksDBInstance.openInstances()).isEqualTo(openBefore);
    }

    @Test
    void withoutABaseAboveTheThresholdCopyingStartsEmpty() throws Exception {
        copyEntriesIntoAnEmptyDatabase();
        List<KeyedStateHandle> handles = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            IncrementalRocksDBKeyedStateBackend<Integer> source = backend(range(2, i), List.of());
            writeAll(source, range(2, i), "");
            handles.add(checkpoint(source));
            dispose(source);
        }
        // the middle third overlaps half of each: below the threshold
        KeyGroupRange middle = range(3, 1);
        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                backend(middle, overlapping(handles, middle));
        assertExact(restored, middle, "");
        assertThat(restoreLog.getMessages())
                .anyMatch(m -> m.contains("starting from an empty database"));
    }

    @Test
    void copyingStopsAtTheEndOfTheClaimedRange() throws Exception {
        copyEntriesIntoAnEmptyDatabase();
        KeyGroupRange lower = new KeyGroupRange(0, 63);
        IncrementalRocksDBKeyedStateBackend<Integer> source = backend(ALL, List.of());
        writeAll(source, ALL, "");
        // point tombstones right after the range the restore copies, then one live key
        int deleted = 0;
        for (int key : keysIn(new KeyGroupRange(64, MAX_PARALLELISM - 2))) {
            source.setCurrentKey(key);
            state(source, VALUE).clear();
            deleted++;
        }
        source.flush();
        List<KeyedStateHandle> handles = List.of(checkpoint(source));
        dispose(source);

        // the perf context is the thread's own; any database reads and resets it
        try (Options options = new Options().setCreateIfMissing(true);
                RocksDB scratch = RocksDB.open(options, tempDir.resolve("perf").toString())) {
            PerfContext perf = scratch.getPerfContext();
            scratch.setPerfLevel(PerfLevel.ENABLE_COUNT);
            try {
                perf.reset();
                IncrementalRocksDBKeyedStateBackend<Integer> restored = backend(lower, handles);
                long skipped = perf.getInternalDeleteSkippedCount();
                assertExact(restored, lower, "");
                assertThat(deleted).isGreaterThan(500);
                assertThat(skipped).as("tombstones skipped by the restore").isZero();
            } finally {
                scratch.setPerfLevel(PerfLevel.DISABLE);
            }
        }
        assertThat(restoreLog.getMessages())
                .anyMatch(m -> m.contains("starting from an empty database"));
    }

    @Test
    void unreadableBlockFailsTheCopyInsteadOfEndingItEarly() throws Exception {
        copyEntriesIntoAnEmptyDatabase();
        List<KeyedStateHandle> handles = List.of(checkpointWithRottenBlock(VALUE.getName()));

        int openBefore = RocksDBInstance.openInstances();
        assertThatThrownBy(() -> backend(new KeyGroupRange(0, 63), handles))
                .hasStackTraceContaining(
                        "Could not read the entries of state 'value' in key groups [0, 63] of"
                                + " checkpoint 1")
                .hasStackTraceContaining("block checksum mismatch");
        assertThat(RocksDBInstance.openInstances()).isEqualTo(openBefore);
    }

    @Test
    void unreadableBlockFailsTheMoveOfTimersToTheHeap() throws Exception {
        List<KeyedStateHandle> handles = List.of(checkpointWithRottenBlock(TIMERS));

        timerService = PriorityQueueStateType.HEAP;
        int openBefore = RocksDBInstance.openInstances();
        assertThatThrownBy(() -> backend(ALL, handles))
                .hasStackTraceContaining(
                        "Could not read the timers of 'timers' to move them to the heap")
                .hasStackTraceContaining("block checksum mismatch");
        assertThat(RocksDBInstance.openInstances()).isEqualTo(openBefore);
    }

    /**
     * A checkpoint of every key group whose file of {@code state} has a block that rotted on the
     * local disk before the checkpoint uploaded it: the upload's checksum covers the rotten bytes,
     * so only RocksDB's block checksum can tell. The verification before the upload would refuse
     * the file, so it is off here; the block may also rot after that verification.
     */
    private KeyedStateHandle checkpointWithRottenBlock(String state) throws Exception {
        settings.put(IncrementalRocksDBOptions.CHECKPOINT_VERIFY_SST_FILES.key(), "false");
        IncrementalRocksDBKeyedStateBackend<Integer> source = backend(ALL, List.of());
        settings.remove(IncrementalRocksDBOptions.CHECKPOINT_VERIFY_SST_FILES.key());
        writeAll(source, ALL, "");
        RottenBlocks.rotFirstDataBlock(source.getDb(), state);
        KeyedStateHandle handle = checkpoint(source);
        dispose(source);
        return handle;
    }

    // ------------------------------------------------------------------------

    /** Rescaling restores copy entries, and start from an empty database below 90% overlap. */
    private void copyEntriesIntoAnEmptyDatabase() {
        settings.put(
                IncrementalRocksDBConfigurableOptions.USE_INGEST_DB_RESTORE_MODE.key(), "false");
        settings.put(
                IncrementalRocksDBConfigurableOptions.RESTORE_OVERLAP_FRACTION_THRESHOLD.key(),
                "0.9");
    }

    private static KeyGroupRange range(int parallelism, int index) {
        return KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                MAX_PARALLELISM, parallelism, index);
    }

    private static int keyGroupOf(int key) {
        return KeyGroupRangeAssignment.assignToKeyGroup(key, MAX_PARALLELISM);
    }

    private static Set<Integer> keysIn(KeyGroupRange range) {
        Set<Integer> keys = new TreeSet<>();
        for (int key = 0; key < KEYS; key++) {
            if (range.contains(keyGroupOf(key))) {
                keys.add(key);
            }
        }
        return keys;
    }

    private static Set<TestType> timersIn(KeyGroupRange range) {
        Set<TestType> timers = new HashSet<>();
        for (int i = 0; i < KEYS; i++) {
            TestType timer = new TestType("key-" + i, i);
            if (range.contains(
                    KeyGroupRangeAssignment.assignToKeyGroup(timer.getKey(), MAX_PARALLELISM))) {
                timers.add(timer);
            }
        }
        return timers;
    }

    private static List<KeyedStateHandle> overlapping(
            List<KeyedStateHandle> handles, KeyGroupRange range) {
        List<KeyedStateHandle> overlapping = new ArrayList<>();
        for (KeyedStateHandle handle : handles) {
            if (handle.getKeyGroupRange().getIntersection(range).getNumberOfKeyGroups() > 0) {
                overlapping.add(handle);
            }
        }
        return overlapping;
    }

    private static IncrementalRemoteKeyedStateHandle claiming(
            IncrementalRemoteKeyedStateHandle handle, KeyGroupRange range) {
        return new IncrementalRemoteKeyedStateHandle(
                handle.getBackendIdentifier(),
                range,
                handle.getCheckpointId(),
                handle.getSharedState(),
                handle.getPrivateState(),
                handle.getMetaDataStateHandle(),
                handle.getCheckpointedSize());
    }

    private void writeAll(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, KeyGroupRange range, String tag)
            throws Exception {
        for (int key : keysIn(range)) {
            backend.setCurrentKey(key);
            state(backend, VALUE).update(tag + "v-" + key);
            state(backend, LIST).update(List.of((long) key, key + 1L));
            state(backend, MAP).put(1, tag + "a" + key);
            state(backend, MAP).put(2, "b" + key);
            state(backend, REDUCING).add((long) key);
            state(backend, REDUCING).add(1L);
            state(backend, AGGREGATING).add((long) key);
            state(backend, AGGREGATING).add(2L);
        }
        KeyGroupedInternalPriorityQueue<TestType> queue = timerQueue(backend);
        for (TestType timer : timersIn(range)) {
            queue.add(timer);
        }
        backend.flush();
    }

    private void assertExact(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, KeyGroupRange range, String tag)
            throws Exception {
        Set<Integer> keys = keysIn(range);
        for (StateDescriptor<?, ?> descriptor : List.of(VALUE, LIST, MAP, REDUCING, AGGREGATING)) {
            Set<Integer> restored = keysOf(backend, descriptor.getName());
            restored.retainAll(keysIn(range));
            assertThat(restored).as(descriptor.getName()).isEqualTo(keys);
        }
        for (int key : keys) {
            backend.setCurrentKey(key);
            assertThat(state(backend, VALUE).value()).isEqualTo(tag + "v-" + key);
            assertThat(state(backend, LIST).get()).containsExactly((long) key, key + 1L);
            Map<Integer, String> map = new HashMap<>();
            for (Map.Entry<Integer, String> entry : state(backend, MAP).entries()) {
                map.put(entry.getKey(), entry.getValue());
            }
            assertThat(map).isEqualTo(Map.of(1, tag + "a" + key, 2, "b" + key));
            assertThat(state(backend, REDUCING).get()).isEqualTo(key + 1L);
            assertThat(state(backend, AGGREGATING).get()).isEqualTo(key + 2L);
        }
        Set<TestType> timers = new HashSet<>();
        try (CloseableIterator<TestType> iterator = timerQueue(backend).iterator()) {
            iterator.forEachRemaining(timers::add);
        }
        Set<TestType> inRange = new HashSet<>(timers);
        inRange.retainAll(timersIn(range));
        assertThat(inRange).isEqualTo(timersIn(range));
        // nothing of key groups the backend does not hold
        for (TestType timer : timers) {
            assertThat(
                            backend.getKeyGroupRange()
                                    .contains(
                                            KeyGroupRangeAssignment.assignToKeyGroup(
                                                    timer.getKey(), MAX_PARALLELISM)))
                    .isTrue();
        }
        for (int key : keysOf(backend, VALUE.getName())) {
            assertThat(backend.getKeyGroupRange().contains(keyGroupOf(key))).isTrue();
        }
    }

    /** The timer queue, created once per backend as an operator does. */
    private KeyGroupedInternalPriorityQueue<TestType> timerQueue(
            IncrementalRocksDBKeyedStateBackend<Integer> backend) {
        return queues.computeIfAbsent(
                backend, b -> b.create(TIMERS, new TestType.V1TestTypeSerializer()));
    }

    private static String value(IncrementalRocksDBKeyedStateBackend<Integer> backend, int key)
            throws Exception {
        backend.setCurrentKey(key);
        return state(backend, VALUE).value();
    }

    private static Set<Integer> keysOf(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, String state) {
        try (Stream<Integer> keys = backend.getKeys(state, VoidNamespace.INSTANCE)) {
            return keys.collect(Collectors.toCollection(TreeSet::new));
        }
    }

    private static <S extends State> S state(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, StateDescriptor<S, ?> descriptor)
            throws Exception {
        return backend.getPartitionedState(
                VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, descriptor);
    }

    /** Deletes key groups {@code [from, to)} of every state with one range tombstone each. */
    private static void deleteKeyGroups(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, int from, int to)
            throws Exception {
        int prefixBytes = backend.getKeyGroupPrefixBytes();
        byte[] begin = new byte[prefixBytes];
        byte[] end = new byte[prefixBytes];
        CompositeKeySerializationUtils.serializeKeyGroup(from, begin);
        CompositeKeySerializationUtils.serializeKeyGroup(to, end);
        for (String name : List.of(VALUE.getName(), LIST.getName(), MAP.getName())) {
            backend.getDb().deleteRange(backend.getColumnFamily(name), begin, end);
        }
        backend.flush();
    }

    private IncrementalRocksDBKeyedStateBackend<Integer> backend(
            KeyGroupRange range, Collection<KeyedStateHandle> restoreFrom) throws Exception {
        IncrementalRocksDBStateBackend configured =
                new IncrementalRocksDBStateBackend(true)
                        .withTimerService(timerService)
                        .withTransferThreads(3)
                        .withLocalDirectories(tempDir.resolve("local").toString());
        for (Map.Entry<String, String> setting : settings.entrySet()) {
            configured = configured.withSetting(setting.getKey(), setting.getValue());
        }
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                KeyedBackends.create(
                        configured,
                        env,
                        IntSerializer.INSTANCE,
                        MAX_PARALLELISM,
                        range,
                        restoreFrom);
        backends.add(backend);
        return backend;
    }

    private IncrementalRemoteKeyedStateHandle checkpoint(
            IncrementalRocksDBKeyedStateBackend<Integer> backend) throws Exception {
        long checkpointId = nextCheckpointId++;
        IncrementalRemoteKeyedStateHandle handle =
                IncrementalTestHarness.snapshot(
                        backend,
                        checkpointId,
                        factory,
                        org.apache.flink.runtime.checkpoint.CheckpointOptions
                                .forCheckpointWithDefaultLocation());
        handle.registerSharedStates(registry, checkpointId);
        return handle;
    }

    private void dispose(IncrementalRocksDBKeyedStateBackend<Integer> backend) {
        backend.dispose();
        backends.remove(backend);
    }

    /** Sums longs, for the aggregating state. */
    private static final class Sum implements AggregateFunction<Long, Long, Long> {
        @Override
        public Long createAccumulator() {
            return 0L;
        }

        @Override
        public Long add(Long value, Long accumulator) {
            return value + accumulator;
        }

        @Override
        public Long getResult(Long accumulator) {
            return accumulator;
        }

        @Override
        public Long merge(Long a, Long b) {
            return a + b;
        }
    }
}
