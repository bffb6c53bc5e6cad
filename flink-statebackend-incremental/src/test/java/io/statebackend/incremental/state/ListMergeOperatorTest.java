package io.statebackend.incremental.state;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.KeyedBackends;

import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.StringAppendOperator;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The merge operator of list state: many appends read back in order wherever their operands are
 * (memtable, SST files, compacted), and databases written with the pairwise operator stay readable.
 */
class ListMergeOperatorTest {

    private static final byte[] STATE = "state".getBytes(StandardCharsets.UTF_8);

    @TempDir Path tempDir;

    @Test
    void manyAppendsReadBackInOrderBeforeAndAfterFlushAndCompaction() throws Exception {
        try (MockEnvironment env = MockEnvironment.builder().build()) {
            IncrementalRocksDBKeyedStateBackend<Integer> backend =
                    KeyedBackends.create(
                            new IncrementalRocksDBStateBackend(true)
                                    .withLocalDirectories(tempDir.toString()),
                            env,
                            IntSerializer.INSTANCE,
                            IncrementalTestHarness.MAX_PARALLELISM,
                            new KeyGroupRange(0, IncrementalTestHarness.MAX_PARALLELISM - 1),
                            Collections.emptyList());
            try {
                ListState<Long> list =
                        backend.getPartitionedState(
                                VoidNamespace.INSTANCE,
                                VoidNamespaceSerializer.INSTANCE,
                                new ListStateDescriptor<>("list", LongSerializer.INSTANCE));
                List<Long> expected = new ArrayList<>();
                backend.setCurrentKey(7);
                appendEach(list, expected, 0, 3000);
                assertThat(list.get()).containsExactlyElementsOf(expected);

                // operands in an SST file, then more in the memtable
                backend.flush();
                appendEach(list, expected, 3000, 2000);
                List<Long> batch = List.of(-1L, -2L, -3L);
                list.addAll(batch);
                expected.addAll(batch);
                assertThat(list.get()).containsExactlyElementsOf(expected);

                // merged into one value by a compaction, then appended to
                backend.flush();
                backend.getDb().compactRange(backend.getColumnFamily("list"));
                appendEach(list, expected, 5000, 10);
                assertThat(list.get()).containsExactlyElementsOf(expected);

                // another key holds its own list
                backend.setCurrentKey(8);
                list.add(42L);
                assertThat(list.get()).containsExactly(42L);
                backend.setCurrentKey(7);
                assertThat(list.get()).hasSize(expected.size());
            } finally {
                backend.dispose();
            }
        }
    }

    /**
     * A database written with the pairwise {@link StringAppendOperator} records that name in its
     * OPTIONS file and SST properties; RocksDB does not compare merge operator names on open, so it
     * opens with the full-merge operator and its unmerged operands read as before. A restore opens
     * downloaded files through the same {@link RocksDBInstance#open}.
     */
    @Test
    void databaseWrittenWithThePairwiseOperatorOpensAndReads() throws Exception {
        File path = tempDir.resolve("old").toFile();
        byte[] key = "key".getBytes(StandardCharsets.UTF_8);
        try (StringAppendOperator pairwise = new StringAppendOperator(',');
                ColumnFamilyOptions cfOptions =
                        new ColumnFamilyOptions().setMergeOperator(pairwise);
                DBOptions dbOptions =
                        new DBOptions()
                                .setCreateIfMissing(true)
                                .setCreateMissingColumnFamilies(true);
                FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
            List<ColumnFamilyHandle> handles = new ArrayList<>();
            try (RocksDB db =
                    RocksDB.open(
                            dbOptions,
                            path.getAbsolutePath(),
                            List.of(
                                    new ColumnFamilyDescriptor(
                                            RocksDB.DEFAULT_COLUMN_FAMILY, cfOptions),
                                    new ColumnFamilyDescriptor(STATE, cfOptions)),
                            handles)) {
                db.merge(handles.get(1), key, bytes("a"));
                db.merge(handles.get(1), key, bytes("b"));
                db.flush(flush, handles.get(1));
                db.merge(handles.get(1), key, bytes("c"));
                db.flush(flush, handles.get(1));
                for (ColumnFamilyHandle handle : handles) {
                    handle.close();
                }
            }
        }
        assertThat(latestOptionsFile(path))
                .contains("merge_operator={id=StringAppendOperator;delimiter=,;}");

        List<ColumnFamilyHandle> handles = new ArrayList<>();
        try (RocksDBInstance instance =
                RocksDBInstance.open(path, null, 1L << 20, List.of(STATE), handles)) {
            RocksDB db = instance.getDb();
            assertThat(string(db.get(handles.get(0), key))).isEqualTo("a,b,c");
            db.merge(handles.get(0), instance.getWriteOptions(), key, bytes("d"));
            assertThat(string(db.get(handles.get(0), key))).isEqualTo("a,b,c,d");
            db.compactRange(handles.get(0));
            assertThat(string(db.get(handles.get(0), key))).isEqualTo("a,b,c,d");
        }
        assertThat(latestOptionsFile(path))
                .contains("merge_operator={id=StringAppendTESTOperator;delimiter=,;}");
    }

    private static void appendEach(ListState<Long> list, List<Long> expected, long from, int count)
            throws Exception {
        for (long i = from; i < from + count; i++) {
            list.add(i);
            expected.add(i);
        }
    }

    private static String latestOptionsFile(File path) throws Exception {
        try (Stream<Path> files = Files.list(path.toPath())) {
            Path latest =
                    files.filter(f -> f.getFileName().toString().startsWith("OPTIONS-"))
                            .max(
                                    (a, b) ->
                                            Long.compare(
                                                    number(a.getFileName().toString()),
                                                    number(b.getFileName().toString())))
                            .orElseThrow();
            return Files.readString(latest);
        }
    }

    private static long number(String optionsFileName) {
        return Long.parseLong(optionsFileName.substring("OPTIONS-".length()));
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String string(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
