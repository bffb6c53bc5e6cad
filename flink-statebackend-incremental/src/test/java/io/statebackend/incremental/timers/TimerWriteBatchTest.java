package io.statebackend.incremental.timers;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteOptions;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The batch writes its operations in key order; the result must be that of the arrival order, also
 * for several operations on one key and for one key in two column families.
 */
class TimerWriteBatchTest {

    @TempDir Path tempDir;

    private final List<AutoCloseable> toClose = new ArrayList<>();
    private RocksDB db;
    private ColumnFamilyHandle first;
    private ColumnFamilyHandle second;
    private WriteOptions writeOptions;

    @BeforeEach
    void open() throws RocksDBException {
        RocksDB.loadLibrary();
        DBOptions dbOptions =
                new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true);
        ColumnFamilyOptions columnOptions = new ColumnFamilyOptions();
        writeOptions = new WriteOptions().setDisableWAL(true);
        List<ColumnFamilyHandle> handles = new ArrayList<>();
        db =
                RocksDB.open(
                        dbOptions,
                        tempDir.toString(),
                        List.of(
                                new ColumnFamilyDescriptor(
                                        RocksDB.DEFAULT_COLUMN_FAMILY, columnOptions),
                                new ColumnFamilyDescriptor(bytes("first"), columnOptions),
                                new ColumnFamilyDescriptor(bytes("second"), columnOptions)),
                        handles);
        first = handles.get(1);
        second = handles.get(2);
        toClose.addAll(handles);
        toClose.add(db);
        toClose.add(columnOptions);
        toClose.add(dbOptions);
        toClose.add(writeOptions);
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable closeable : toClose) {
            closeable.close();
        }
    }

    @Test
    void operationsOnOneKeyKeepTheirOrderAmongOthers() throws RocksDBException {
        try (TimerWriteBatch batch = new TimerWriteBatch(db, writeOptions, 100)) {
            // keys that sort before and after the repeated ones, in descending arrival order
            for (int i = 9; i >= 0; i--) {
                batch.put(first, bytes("k" + i), bytes("v" + i));
            }
            batch.put(first, bytes("kept"), bytes("1"));
            batch.delete(first, bytes("k3"));
            batch.delete(first, bytes("kept"));
            batch.put(first, bytes("k3"), bytes("again"));
            batch.put(first, bytes("kept"), bytes("2"));
            batch.delete(first, bytes("gone"));
            batch.put(first, bytes("gone"), bytes("x"));
            batch.delete(first, bytes("gone"));
            // the same key in another column family, with the opposite outcome
            batch.put(second, bytes("kept"), bytes("other"));
            batch.delete(second, bytes("kept"));
            assertThat(db.get(first, bytes("k0"))).isNull();
            batch.flush();
        }
        assertThat(db.get(first, bytes("k3"))).isEqualTo(bytes("again"));
        assertThat(db.get(first, bytes("k7"))).isEqualTo(bytes("v7"));
        assertThat(db.get(first, bytes("kept"))).isEqualTo(bytes("2"));
        assertThat(db.get(first, bytes("gone"))).isNull();
        assertThat(db.get(second, bytes("kept"))).isNull();
    }

    /** Random operations on few keys, across many full batches, against a map. */
    @Test
    void randomOperationsEndAsInArrivalOrder() throws RocksDBException {
        Random random = new Random(42);
        Map<String, String> expectedFirst = new HashMap<>();
        Map<String, String> expectedSecond = new HashMap<>();
        try (TimerWriteBatch batch = new TimerWriteBatch(db, writeOptions, 37)) {
            for (int i = 0; i < 5_000; i++) {
                boolean inFirst = random.nextBoolean();
                ColumnFamilyHandle family = inFirst ? first : second;
                Map<String, String> expected = inFirst ? expectedFirst : expectedSecond;
                String key = "key-" + random.nextInt(20);
                if (random.nextInt(3) == 0) {
                    batch.delete(family, bytes(key));
                    expected.remove(key);
                } else {
                    String value = "value-" + i;
                    batch.put(family, bytes(key), bytes(value));
                    expected.put(key, value);
                }
            }
            batch.flush();
        }
        for (int k = 0; k < 20; k++) {
            String key = "key-" + k;
            assertThat(string(db.get(first, bytes(key)))).as(key).isEqualTo(expectedFirst.get(key));
            assertThat(string(db.get(second, bytes(key))))
                    .as(key)
                    .isEqualTo(expectedSecond.get(key));
        }
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static String string(byte[] bytes) {
        return bytes == null ? null : new String(bytes, StandardCharsets.UTF_8);
    }
}
