package io.statebackend.incremental.state;

import io.statebackend.incremental.rocksdb.RocksDBInstance;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.LRUCache;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

import javax.annotation.Nullable;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Point lookups give what RocksDB's get gives, in both of their ways (get, and the memtables and
 * block cache first), for values in the memtable, in files, merged across both, deleted, longer and
 * shorter than the caller's buffer, and when no block is cached; and the way follows the share of
 * lookups that miss.
 */
class PointReaderTest {

    private static final int KEYS = 2_000;

    @TempDir Path dir;

    private final List<AutoCloseable> resources = new ArrayList<>();
    private RocksDB db;
    private ColumnFamilyHandle state;
    private ReadOptions readOptions;

    @AfterEach
    void close() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
    }

    @Test
    void readsWhatGetReadsInBothWays() throws Exception {
        open(false);
        writeKeys();
        final PointReader reader = new PointReader(db, state, readOptions);

        // present keys only: get
        for (int i = 0; i < KEYS; i += 2) {
            assertReadsLikeGet(reader, key(i), 64);
        }
        assertThat(reader.isCacheFirst()).isFalse();

        // misses move it to the memtables and the block cache first
        for (int i = 1; i < 40; i += 2) {
            assertReadsLikeGet(reader, key(i), 64);
        }
        assertThat(reader.isCacheFirst()).isTrue();

        // half of the lookups miss: it stays there; buffers shorter, as long as, and longer than
        // the values
        for (int i = 0; i < KEYS; i++) {
            for (int bufferLength : new int[] {0, 7, 64, 400}) {
                assertReadsLikeGet(reader, key(i), bufferLength);
            }
        }
        assertThat(reader.isCacheFirst()).isTrue();

        // hits only: back to get
        for (int i = 0; i < 200; i += 2) {
            assertReadsLikeGet(reader, key(i), 64);
        }
        assertThat(reader.isCacheFirst()).isFalse();
    }

    @Test
    void readsMergedAndDeletedValuesLikeGet() throws Exception {
        open(false);
        writeKeys();
        // operands in the memtable over values in a file, and deletions of values in a file
        for (int i = 0; i < KEYS; i += 4) {
            db.merge(state, key(i), "appended".getBytes(StandardCharsets.UTF_8));
        }
        for (int i = 2; i < KEYS; i += 8) {
            db.delete(state, key(i));
        }
        assertAllKeysReadLikeGetCacheFirst(64, 400);
    }

    @Test
    void readsLikeGetWhenNoBlockIsCached() throws Exception {
        open(true);
        writeKeys();
        assertAllKeysReadLikeGetCacheFirst(64);
    }

    /**
     * Index blocks live in the block cache (as with Flink's managed memory) but the cache keeps
     * nothing: a cache-only lookup of a key in a file cannot read the file's index. RocksDB then
     * answers "may exist" with its "value found" flag still set and an empty value; taken for the
     * value, a list state read empty (seen in the protocol model after a restore).
     */
    @Test
    void readsLikeGetWhenIndexBlocksAreNotCached() throws Exception {
        RocksDB.loadLibrary();
        final LRUCache tinyCache = track(new LRUCache(1));
        open(
                new BlockBasedTableConfig()
                        .setBlockCache(tinyCache)
                        .setCacheIndexAndFilterBlocks(true));
        writeKeys();
        try (FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
            db.flush(flush, state);
        }
        assertAllKeysReadLikeGetCacheFirst(64, 400);
    }

    /**
     * Reads every key, present or not, with buffers of the given lengths, after enough misses to
     * read the memtables and the block cache first; with half of them absent it stays so.
     */
    private void assertAllKeysReadLikeGetCacheFirst(int... bufferLengths) throws RocksDBException {
        final PointReader reader = new PointReader(db, state, readOptions);
        for (int i = 0; i < 16; i++) {
            final byte[] absent = ("absent-" + i).getBytes(StandardCharsets.UTF_8);
            assertThat(reader.read(absent, absent.length, new byte[8]))
                    .isEqualTo(RocksDB.NOT_FOUND);
        }
        assertThat(reader.isCacheFirst()).isTrue();
        for (int i = 0; i < KEYS; i++) {
            for (int bufferLength : bufferLengths) {
                assertReadsLikeGet(reader, key(i), bufferLength);
            }
        }
        assertThat(reader.isCacheFirst()).isTrue();
    }

    /** Even keys have values of 0 to 299 bytes; half of them are flushed to a file. */
    private void writeKeys() throws RocksDBException {
        for (int i = 0; i < KEYS; i += 2) {
            db.put(state, key(i), value(i));
            if (i == KEYS / 2) {
                try (FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
                    db.flush(flush, state);
                }
            }
        }
    }

    private void assertReadsLikeGet(PointReader reader, byte[] key, int bufferLength)
            throws RocksDBException {
        final byte[] expected = db.get(state, key);
        // a key is read from the start of a longer array, as the key builder's buffer holds it
        final byte[] keyBuffer = Arrays.copyOf(key, key.length + 5);
        final byte[] target = new byte[bufferLength];
        final int length = reader.read(keyBuffer, key.length, target);
        if (expected == null) {
            assertThat(length)
                    .as("length for key %s", new String(key))
                    .isEqualTo(RocksDB.NOT_FOUND);
        } else {
            assertThat(length).as("length for key %s", new String(key)).isEqualTo(expected.length);
            final int copied = Math.min(bufferLength, expected.length);
            assertThat(Arrays.copyOf(target, copied))
                    .as("value of key %s", new String(key))
                    .isEqualTo(Arrays.copyOf(expected, copied));
        }
    }

    private void open(boolean noBlockCache) throws RocksDBException {
        open(noBlockCache ? new BlockBasedTableConfig().setNoBlockCache(true) : null);
    }

    private void open(@Nullable BlockBasedTableConfig tableConfig) throws RocksDBException {
        final ColumnFamilyOptions columnOptions =
                track(new ColumnFamilyOptions())
                        .setMergeOperatorName(RocksDBInstance.LIST_MERGE_OPERATOR);
        if (tableConfig != null) {
            columnOptions.setTableFormatConfig(tableConfig);
        }
        final DBOptions dbOptions =
                track(new DBOptions())
                        .setCreateIfMissing(true)
                        .setCreateMissingColumnFamilies(true);
        final List<ColumnFamilyHandle> handles = new ArrayList<>();
        db =
                track(
                        RocksDB.open(
                                dbOptions,
                                dir.resolve("db").toString(),
                                List.of(
                                        new ColumnFamilyDescriptor(
                                                RocksDB.DEFAULT_COLUMN_FAMILY, columnOptions),
                                        new ColumnFamilyDescriptor(
                                                "state".getBytes(StandardCharsets.UTF_8),
                                                columnOptions)),
                                handles));
        // closed before the database
        handles.forEach(this::track);
        state = handles.get(1);
        readOptions = track(new ReadOptions());
    }

    private <T extends AutoCloseable> T track(T resource) {
        resources.add(resource);
        return resource;
    }

    private static byte[] key(int i) {
        return String.format("key-%06d", i).getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] value(int i) {
        final byte[] value = new byte[(i * 7) % 300];
        Arrays.fill(value, (byte) i);
        return value;
    }
}
