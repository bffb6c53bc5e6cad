package io.statebackend.incremental.rocksdb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.FlushOptions;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;

import static org.assertj.core.api.Assertions.assertThat;

/** Options of every database that incremental checkpoints depend on. */
class RocksDBInstanceTest {

    private static final long SMALL_MANIFEST = 64 * 1024;

    @TempDir Path tempDir;

    /**
     * The MANIFEST is uploaded with every checkpoint, so the configured bound must make RocksDB
     * roll over to a new, small one; without the bound the same work grows it well past it.
     */
    @Test
    void manifestRollsOverAtTheConfiguredSize() throws Exception {
        Manifests bounded = manifestsAfterManyFlushes(tempDir.resolve("bounded"), SMALL_MANIFEST);
        Manifests unbounded = manifestsAfterManyFlushes(tempDir.resolve("unbounded"), 1L << 30);
        System.out.printf(
                "MANIFEST with a %d byte limit: %s; without: %s%n",
                SMALL_MANIFEST, bounded, unbounded);

        // without a bound the one MANIFEST grows with the whole history of the database
        assertThat(unbounded.current).isEqualTo(unbounded.first);
        assertThat(unbounded.largest).isGreaterThan(2 * SMALL_MANIFEST);
        // with it RocksDB starts new ones; each starts with a snapshot of the live files only
        assertThat(bounded.current).isNotEqualTo(bounded.first);
        assertThat(bounded.largest).isLessThan(unbounded.largest);
    }

    /** Iterators must see every key whatever prefix extractor a column family has (FLINK-17800). */
    @Test
    void readsUseTotalOrderSeek() throws Exception {
        try (RocksDBInstance instance =
                RocksDBInstance.open(
                        tempDir.resolve("db").toFile(),
                        null,
                        SMALL_MANIFEST,
                        Collections.emptyList(),
                        new ArrayList<>())) {
            assertThat(instance.getReadOptions().totalOrderSeek()).isTrue();
            assertThat(instance.getWriteOptions().disableWAL()).isTrue();
        }
    }

    /** The MANIFEST files of a database: the first, the current one and the largest size. */
    private static final class Manifests {
        String first;
        String current;
        long largest;

        @Override
        public String toString() {
            return "first " + first + ", current " + current + ", largest " + largest + " bytes";
        }
    }

    private static Manifests manifestsAfterManyFlushes(Path path, long maxManifestFileSize)
            throws Exception {
        File directory = path.toFile();
        Manifests manifests = new Manifests();
        try (RocksDBInstance instance =
                        RocksDBInstance.open(
                                directory,
                                null,
                                maxManifestFileSize,
                                Collections.emptyList(),
                                new ArrayList<>());
                FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
            manifests.first = currentManifest(directory);
            ColumnFamilyHandle state = instance.createColumnFamily("state");
            byte[] value = new byte[64];
            for (int i = 0; i < 1000; i++) {
                byte[] key = ("key-" + i).getBytes(StandardCharsets.UTF_8);
                instance.getDb().put(state, instance.getWriteOptions(), key, value);
                instance.getDb().flush(flush, state);
                for (File manifest :
                        directory.listFiles((dir, name) -> name.startsWith("MANIFEST-"))) {
                    manifests.largest = Math.max(manifests.largest, manifest.length());
                }
            }
            manifests.current = currentManifest(directory);
            return manifests;
        }
    }

    private static String currentManifest(File directory) throws Exception {
        return new String(
                        java.nio.file.Files.readAllBytes(new File(directory, "CURRENT").toPath()),
                        StandardCharsets.UTF_8)
                .trim();
    }
}
