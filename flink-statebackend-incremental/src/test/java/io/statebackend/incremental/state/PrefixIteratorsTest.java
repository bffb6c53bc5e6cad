package io.statebackend.incremental.state;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksIterator;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** An iterator of {@link PrefixIterators} sees exactly the keys that start with its prefix. */
class PrefixIteratorsTest {

    @TempDir Path tempDir;

    private Options options;
    private ReadOptions readOptions;
    private RocksDB db;
    private PrefixIterators iterators;

    @BeforeEach
    void open() throws Exception {
        RocksDB.loadLibrary();
        options = new Options().setCreateIfMissing(true);
        readOptions = new ReadOptions().setTotalOrderSeek(true);
        db = RocksDB.open(options, tempDir.toString());
        iterators = new PrefixIterators(db, readOptions);
    }

    @AfterEach
    void close() {
        iterators.close();
        db.close();
        readOptions.close();
        options.close();
    }

    @Test
    void successorDropsTrailingMaximumBytes() {
        assertThat(PrefixIterators.successorLength(bytes(1, 2, 3))).isEqualTo(3);
        assertThat(PrefixIterators.successorLength(bytes(1, 0xFF, 0xFF))).isEqualTo(1);
        assertThat(PrefixIterators.successorLength(bytes(0xFF, 0xFF))).isZero();
        assertThat(PrefixIterators.successorLength(new byte[0])).isZero();
    }

    @Test
    void iteratesTheKeysOfEachPrefixOnly() throws Exception {
        List<byte[]> prefixes =
                Arrays.asList(
                        bytes(0),
                        bytes(1, 0x7F),
                        bytes(1, 0xFF),
                        bytes(1, 0xFF, 0xFF),
                        bytes(2, 0xFF, 0x00),
                        bytes(0xFF, 0xFF),
                        longPrefix(100, 7),
                        longPrefix(300, 0xFF));
        for (int p = 0; p < prefixes.size(); p++) {
            for (int k = 0; k < 3; k++) {
                db.put(concat(prefixes.get(p), bytes(k)), bytes(p));
            }
        }
        // neighbours that share all but the last byte of a prefix, or extend it with 0xFF
        db.put(bytes(1, 0x80), bytes(99));
        db.put(bytes(1, 0x7E, 0xFF), bytes(99));
        db.put(longPrefix(100, 8), bytes(99));

        for (byte[] prefix : prefixes) {
            List<byte[]> expected = new ArrayList<>();
            try (RocksIterator all = db.newIterator(readOptions)) {
                for (all.seek(prefix); all.isValid(); all.next()) {
                    if (startsWith(all.key(), prefix)) {
                        expected.add(all.key());
                    } else {
                        break;
                    }
                }
            }
            List<byte[]> seen = new ArrayList<>();
            try (RocksIterator bounded = iterators.open(db.getDefaultColumnFamily(), prefix)) {
                for (bounded.seek(prefix); bounded.isValid(); bounded.next()) {
                    seen.add(bounded.key());
                }
                bounded.status();
            }
            assertThat(seen)
                    .as("keys with prefix %s", Arrays.toString(prefix))
                    .usingElementComparator(Arrays::compare)
                    .containsExactlyElementsOf(expected);
            assertThat(seen).allSatisfy(key -> assertThat(startsWith(key, prefix)).isTrue());
        }
    }

    @Test
    void refusesASecondIteratorWhileOneIsOpen() throws Exception {
        db.put(bytes(1, 1), bytes(1));
        RocksIterator first = iterators.open(db.getDefaultColumnFamily(), bytes(1));
        assertThatThrownBy(() -> iterators.open(db.getDefaultColumnFamily(), bytes(2)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("still open");
        first.seek(bytes(1));
        assertThat(first.key()).containsExactly(1, 1);
        first.close();
        iterators.open(db.getDefaultColumnFamily(), bytes(2)).close();
    }

    private static byte[] bytes(int... values) {
        byte[] bytes = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            bytes[i] = (byte) values[i];
        }
        return bytes;
    }

    private static byte[] longPrefix(int length, int last) {
        byte[] prefix = new byte[length];
        Arrays.fill(prefix, (byte) 5);
        prefix[length - 1] = (byte) last;
        return prefix;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] joined = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, joined, a.length, b.length);
        return joined;
    }

    private static boolean startsWith(byte[] key, byte[] prefix) {
        return key.length >= prefix.length
                && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
    }
}
