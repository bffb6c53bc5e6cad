package io.statebackend.incremental.testutils;

import org.rocksdb.CompressionType;
import org.rocksdb.FlushOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static java.nio.charset.StandardCharsets.UTF_8;

/** Blob files written by RocksDB itself, for tests of code that reads them. */
public final class TestBlobFiles {

    private TestBlobFiles() {}

    /**
     * Writes {@code values} values of {@code valueSize} bytes (keys {@code key-00000} on) into a
     * new database under {@code directory}, flushes it into one blob file, and returns that file.
     */
    public static Path write(Path directory, int values, int valueSize) throws Exception {
        Path db = directory.resolve("blob-db");
        try (Options options =
                        new Options()
                                .setCreateIfMissing(true)
                                .setEnableBlobFiles(true)
                                .setMinBlobSize(0)
                                .setBlobCompressionType(CompressionType.NO_COMPRESSION);
                RocksDB rocksDB = RocksDB.open(options, db.toString());
                FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
            for (int i = 0; i < values; i++) {
                rocksDB.put(String.format("key-%05d", i).getBytes(UTF_8), value(i, valueSize));
            }
            rocksDB.flush(flush);
        }
        List<Path> blobs;
        try (Stream<Path> files = Files.list(db)) {
            blobs =
                    files.filter(f -> f.getFileName().toString().endsWith(".blob"))
                            .collect(Collectors.toList());
        }
        if (blobs.size() != 1) {
            throw new AssertionError("Expected one blob file, found " + blobs);
        }
        return blobs.get(0);
    }

    private static byte[] value(int i, int size) {
        byte[] value = new byte[size];
        for (int j = 0; j < size; j++) {
            value[j] = (byte) (i * 31 + j);
        }
        return value;
    }
}
