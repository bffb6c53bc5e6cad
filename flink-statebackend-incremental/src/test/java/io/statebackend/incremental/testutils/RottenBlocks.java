package io.statebackend.incremental.testutils;

import org.rocksdb.LiveFileMetaData;
import org.rocksdb.RocksDB;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Damages a live SST file as a failing disk would, so that RocksDB's block checksum no longer
 * matches. A flush does not fill the block cache, so the next read of the block reads the file.
 */
public final class RottenBlocks {

    private RottenBlocks() {}

    /**
     * Flips one bit inside the first data block of the only SST file of {@code columnFamily}; that
     * block holds the column family's smallest keys.
     */
    public static void rotFirstDataBlock(RocksDB db, String columnFamily) throws Exception {
        List<File> files = sstFilesOf(db, columnFamily);
        assertThat(files).as("SST files of %s", columnFamily).hasSize(1);
        rotFirstDataBlock(files.get(0));
    }

    /** The live SST files of {@code columnFamily}, oldest (lowest file number) first. */
    public static List<File> sstFilesOf(RocksDB db, String columnFamily) {
        return db.getLiveFilesMetaData().stream()
                .filter(f -> new String(f.columnFamilyName(), UTF_8).equals(columnFamily))
                .sorted(Comparator.comparing(LiveFileMetaData::fileName))
                .map(f -> new File(f.path(), f.fileName()))
                .collect(Collectors.toList());
    }

    /** Flips one bit inside the first data block of the SST file. */
    public static void rotFirstDataBlock(File sst) throws IOException {
        try (RandomAccessFile file = new RandomAccessFile(sst, "rw")) {
            file.seek(64);
            int original = file.read();
            file.seek(64);
            file.write(original ^ 0x01);
        }
    }
}
