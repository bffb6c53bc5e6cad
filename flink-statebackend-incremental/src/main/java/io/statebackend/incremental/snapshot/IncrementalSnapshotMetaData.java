package io.statebackend.incremental.snapshot;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.apache.flink.runtime.state.KeyedBackendSerializationProxy;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.apache.flink.util.Preconditions;

import java.io.EOFException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The meta data stream of an incremental snapshot: Flink's {@link KeyedBackendSerializationProxy}
 * (key serializer and state meta infos, so the runtime's tools can read it), followed by this
 * backend's own section: a magic number, a format version and, for every file of the snapshot, its
 * name, size and CRC32C checksum.
 *
 * <p>The checksums live here rather than in the state handle because the handle is a runtime type
 * that the JobManager reads and that has no room for them.
 */
public final class IncrementalSnapshotMetaData {

    /** Marks the start of this backend's section ("IRDB"). */
    static final int MAGIC = 0x49524442;

    /** Version of this backend's section. */
    static final int VERSION = 1;

    /** Name, size and checksum of one file of the snapshot. */
    public static final class FileEntry {
        private final String name;
        private final long size;
        private final int checksum;

        public FileEntry(String name, long size, int checksum) {
            this.name = Preconditions.checkNotNull(name);
            this.size = size;
            this.checksum = checksum;
        }

        public String getName() {
            return name;
        }

        public long getSize() {
            return size;
        }

        public int getChecksum() {
            return checksum;
        }
    }

    private final TypeSerializerSnapshot<?> keySerializerSnapshot;
    private final List<StateMetaInfoSnapshot> stateMetaInfoSnapshots;
    private final Map<String, FileEntry> files;

    private IncrementalSnapshotMetaData(
            TypeSerializerSnapshot<?> keySerializerSnapshot,
            List<StateMetaInfoSnapshot> stateMetaInfoSnapshots,
            Map<String, FileEntry> files) {
        this.keySerializerSnapshot = keySerializerSnapshot;
        this.stateMetaInfoSnapshots = Collections.unmodifiableList(stateMetaInfoSnapshots);
        this.files = Collections.unmodifiableMap(files);
    }

    public static <K> void write(
            DataOutputView out,
            TypeSerializer<K> keySerializer,
            List<StateMetaInfoSnapshot> stateMetaInfoSnapshots,
            List<FileEntry> files)
            throws IOException {
        // key groups are not written as streams in this format, so there is nothing to compress
        new KeyedBackendSerializationProxy<>(keySerializer, stateMetaInfoSnapshots, false)
                .write(out);
        out.writeInt(MAGIC);
        out.writeInt(VERSION);
        out.writeInt(files.size());
        for (FileEntry file : files) {
            out.writeUTF(file.getName());
            out.writeLong(file.getSize());
            out.writeInt(file.getChecksum());
        }
    }

    /**
     * Reads the meta data of checkpoint {@code checkpointId}.
     *
     * @throws IOException if it was not written by this backend or by a newer version of it
     */
    public static IncrementalSnapshotMetaData read(
            DataInputView in, ClassLoader userCodeClassLoader, long checkpointId)
            throws IOException {
        KeyedBackendSerializationProxy<?> proxy =
                new KeyedBackendSerializationProxy<>(userCodeClassLoader);
        proxy.read(in);
        final int magic;
        try {
            magic = in.readInt();
        } catch (EOFException e) {
            throw new IOException(
                    "The meta data of checkpoint "
                            + checkpointId
                            + " has no file checksums: the checkpoint was not written by this state"
                            + " backend (perhaps by Flink's RocksDB backend). Restore from a"
                            + " savepoint in canonical format instead.",
                    e);
        }
        if (magic != MAGIC) {
            throw new IOException(
                    String.format(
                            "The meta data of checkpoint %d was not written by this state backend"
                                    + " (unknown section marker %08x).",
                            checkpointId, magic));
        }
        int version = in.readInt();
        if (version < 1 || version > VERSION) {
            throw new IOException(
                    "The meta data of checkpoint "
                            + checkpointId
                            + " has format version "
                            + version
                            + "; this version of the backend reads versions 1 to "
                            + VERSION
                            + ".");
        }
        int count = in.readInt();
        if (count < 0) {
            throw new IOException(
                    "The meta data of checkpoint " + checkpointId + " is corrupted (file count).");
        }
        Map<String, FileEntry> files = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            FileEntry entry = new FileEntry(in.readUTF(), in.readLong(), in.readInt());
            if (files.put(entry.getName(), entry) != null) {
                throw new IOException(
                        "The meta data of checkpoint "
                                + checkpointId
                                + " lists the file '"
                                + entry.getName()
                                + "' twice.");
            }
        }
        return new IncrementalSnapshotMetaData(
                proxy.getKeySerializerSnapshot(),
                new ArrayList<>(proxy.getStateMetaInfoSnapshots()),
                files);
    }

    public TypeSerializerSnapshot<?> getKeySerializerSnapshot() {
        return keySerializerSnapshot;
    }

    public List<StateMetaInfoSnapshot> getStateMetaInfoSnapshots() {
        return stateMetaInfoSnapshots;
    }

    /** The files of the snapshot by name. */
    public Map<String, FileEntry> getFiles() {
        return files;
    }
}
