package io.statebackend.incremental.rocksdb.options;

import org.apache.flink.configuration.ReadableConfig;

import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;

import java.io.Serializable;

import static io.statebackend.incremental.IncrementalRocksDBOptions.BLOB_FILES_ENABLED;
import static io.statebackend.incremental.IncrementalRocksDBOptions.BLOB_FILES_FILE_SIZE;
import static io.statebackend.incremental.IncrementalRocksDBOptions.BLOB_FILES_GC_AGE_CUTOFF;
import static io.statebackend.incremental.IncrementalRocksDBOptions.BLOB_FILES_MIN_VALUE_SIZE;

/**
 * Whether and how values are kept in blob files apart from the keys, resolved and validated from
 * the configuration. Compactions then rewrite keys and value references only, so that the bytes an
 * incremental checkpoint uploads follow the values written rather than the compactions.
 */
final class BlobFileOptions implements Serializable {

    private static final long serialVersionUID = 1L;

    private final boolean enabled;
    private final long minValueSize;
    private final long fileSize;
    private final double gcAgeCutoff;

    private BlobFileOptions(ReadableConfig config) {
        this.enabled = ConfigValues.read(config, BLOB_FILES_ENABLED);
        this.minValueSize = ConfigValues.read(config, BLOB_FILES_MIN_VALUE_SIZE).getBytes();
        this.fileSize = ConfigValues.read(config, BLOB_FILES_FILE_SIZE).getBytes();
        if (fileSize <= 0) {
            throw ConfigValues.invalid(
                    BLOB_FILES_FILE_SIZE,
                    ConfigValues.rawValue(config, BLOB_FILES_FILE_SIZE),
                    "it must be larger than 0");
        }
        this.gcAgeCutoff = ConfigValues.read(config, BLOB_FILES_GC_AGE_CUTOFF);
        if (!(gcAgeCutoff >= 0.0 && gcAgeCutoff <= 1.0)) {
            throw ConfigValues.invalid(
                    BLOB_FILES_GC_AGE_CUTOFF,
                    ConfigValues.rawValue(config, BLOB_FILES_GC_AGE_CUTOFF),
                    "it must be a fraction between 0 and 1");
        }
    }

    static BlobFileOptions fromConfig(ReadableConfig config) {
        return new BlobFileOptions(config);
    }

    boolean isEnabled() {
        return enabled;
    }

    /**
     * Sets the blob options if blob files are enabled. Otherwise leaves RocksDB's defaults, under
     * which blob files already written stay readable and are never relocated.
     *
     * @param compression the compression of the last level, which holds most of the values without
     *     blob files: values keep the compression they would have had
     */
    void applyTo(ColumnFamilyOptions options, CompressionType compression) {
        if (!enabled) {
            return;
        }
        options.setEnableBlobFiles(true)
                .setMinBlobSize(minValueSize)
                .setBlobFileSize(fileSize)
                .setBlobCompressionType(compression)
                .setEnableBlobGarbageCollection(gcAgeCutoff > 0.0);
        if (gcAgeCutoff > 0.0) {
            options.setBlobGarbageCollectionAgeCutoff(gcAgeCutoff);
        }
    }
}
