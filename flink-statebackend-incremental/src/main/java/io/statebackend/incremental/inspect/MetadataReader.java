package io.statebackend.incremental.inspect;

import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.core.fs.Path;
import org.apache.flink.runtime.checkpoint.Checkpoints;
import org.apache.flink.runtime.checkpoint.metadata.CheckpointMetadata;

import java.io.DataInputStream;

/**
 * Reads a {@code _metadata} file with Flink's own deserializer: the state handles in it are Flink
 * types for every backend (this one, Flink's RocksDB and heap backends), so no backend class is
 * needed.
 */
final class MetadataReader {

    /**
     * @throws InspectionException naming the file if it cannot be read or is not checkpoint meta
     *     data
     */
    CheckpointMetadata read(CheckpointDirectory checkpoint) throws InspectionException {
        final Path file = new Path(checkpoint.getPath(), DirectoryScanner.METADATA);
        try (FSDataInputStream in = file.getFileSystem().open(file);
                DataInputStream data = new DataInputStream(in)) {
            return Checkpoints.loadCheckpointMetadata(
                    data, MetadataReader.class.getClassLoader(), checkpoint.getPath().toString());
        } catch (Exception e) {
            throw new InspectionException(
                    "Cannot read the checkpoint meta data " + file + ": " + e, e);
        }
    }
}
