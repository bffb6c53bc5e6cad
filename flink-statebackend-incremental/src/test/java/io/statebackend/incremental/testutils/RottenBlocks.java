package io.statebackend.incremental.testutils;

import org.rocksdb.LiveFileMetaData;
import org.rocksdb.RocksDB;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
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
        List<LiveFileMetaData> files =
                db.getLiveFilesMetaData().stream()
                        .filter(f -> new String(f.columnFamilyName(), UTF_8).equals(columnFamily))
                        .collect(Collectors.toList());
        assertThat(files).as("SST files of %s", columnFamily).hasSize(1);
        rotFirstDataBlock(new File(files.get(0).path(), files.get(0).fileName()));
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
