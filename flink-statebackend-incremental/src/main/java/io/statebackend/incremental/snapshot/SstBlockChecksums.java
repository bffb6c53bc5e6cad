package io.statebackend.incremental.snapshot;

import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.SstFileReader;
import org.rocksdb.Status;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Verifies RocksDB's block checksums of an SST file before it is uploaded.
 *
 * <p>A block that rots on the local disk after RocksDB wrote it is invisible to the upload: the
 * CRC32C of the upload covers the rotten bytes, and every download verifies fine. Only RocksDB's
 * block checksum tells, at the first read of the block after a restore, when the checkpoint has
 * completed and may have subsumed every good one. Verified before the upload, the file fails the
 * checkpoint that needs it instead.
 */
public final class SstBlockChecksums {

    static {
        RocksDB.loadLibrary();
    }

    private SstBlockChecksums() {}

    /**
     * Reads every block of the SST file and compares it with its checksum.
     *
     * @throws IOException naming the file and what RocksDB found: it is damaged if a block does not
     *     match or the file is not a whole SST file; otherwise it could not be read
     */
    public static void verify(Path file) throws IOException {
        // a reader of its own, without a block cache: the blocks are read once and not kept
        try (Options options =
                        new Options()
                                .setTableFormatConfig(
                                        new BlockBasedTableConfig().setNoBlockCache(true));
                SstFileReader reader = new SstFileReader(options)) {
            reader.open(file.toString());
            reader.verifyChecksum();
        } catch (RocksDBException e) {
            if (e.getStatus() == null || e.getStatus().getCode() != Status.Code.Corruption) {
                throw new IOException(
                        "Could not read the SST file "
                                + file
                                + " to verify its block checksums: "
                                + e.getMessage(),
                        e);
            }
            throw new IOException(
                    "The SST file "
                            + file.getFileName()
                            + " on the local disk is damaged: "
                            + e.getMessage()
                            + ". It is not uploaded, so this snapshot fails and the last completed"
                            + " checkpoint stays the one to restore. The local disk of this task"
                            + " manager may be failing.",
                    e);
        }
    }
}
