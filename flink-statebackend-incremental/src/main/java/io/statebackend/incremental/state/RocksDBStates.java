package io.statebackend.incremental.state;

import org.apache.flink.api.common.state.AggregatingStateDescriptor;
import org.apache.flink.api.common.state.ReducingStateDescriptor;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.ListSerializer;
import org.apache.flink.api.common.typeutils.base.MapSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.state.ListDelimitedSerializer;
import org.apache.flink.util.FlinkRuntimeException;
import org.apache.flink.util.StateMigrationException;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

import java.io.IOException;

/** Creates state objects by kind, and rewrites stored values when a serializer migrates. */
public final class RocksDBStates {

    /** Bytes of rewritten values buffered before a migration writes them. */
    private static final long MIGRATION_BATCH_BYTES = 4L << 20;

    private RocksDBStates() {}

    @SuppressWarnings({"unchecked", "rawtypes"})
    public static <K, N, SV> AbstractRocksDBState<K, N, SV> create(
            RocksDBStateContext<K> backend,
            StateDescriptor<?, SV> stateDesc,
            TypeSerializer<N> namespaceSerializer,
            TypeSerializer<SV> stateSerializer) {
        String name = stateDesc.getName();
        switch (stateDesc.getType()) {
            case VALUE:
                return new RocksDBValueState<>(
                        backend,
                        name,
                        namespaceSerializer,
                        stateSerializer,
                        ((ValueStateDescriptor<SV>) stateDesc).getDefaultValue());
            case LIST:
                return (AbstractRocksDBState)
                        new RocksDBListState<>(
                                backend,
                                name,
                                namespaceSerializer,
                                (TypeSerializer) stateSerializer);
            case MAP:
                return (AbstractRocksDBState)
                        new RocksDBMapState<>(
                                backend,
                                name,
                                namespaceSerializer,
                                (TypeSerializer) stateSerializer);
            case REDUCING:
                return new RocksDBReducingState<>(
                        backend,
                        name,
                        namespaceSerializer,
                        stateSerializer,
                        ((ReducingStateDescriptor<SV>) stateDesc).getReduceFunction());
            case AGGREGATING:
                return (AbstractRocksDBState)
                        new RocksDBAggregatingState<>(
                                backend,
                                name,
                                namespaceSerializer,
                                stateSerializer,
                                ((AggregatingStateDescriptor) stateDesc).getAggregateFunction());
            default:
                throw new FlinkRuntimeException(
                        "State '"
                                + name
                                + "' has kind "
                                + stateDesc.getType()
                                + ", which this backend does not support.");
        }
    }

    /**
     * Rewrites every value of a column family from the previous serializer to the new one. Keys
     * stay as they are: only value serializers may migrate.
     */
    public static <SV> void migrate(
            RocksDB db,
            ColumnFamilyHandle columnFamily,
            ReadOptions readOptions,
            WriteOptions writeOptions,
            StateDescriptor.Type type,
            TypeSerializer<SV> previous,
            TypeSerializer<SV> current)
            throws StateMigrationException {
        ValueRewriter rewriter = rewriterFor(type, previous, current);
        DataInputDeserializer in = new DataInputDeserializer();
        DataOutputSerializer out = new DataOutputSerializer(256);
        try (RocksIterator iterator = db.newIterator(columnFamily, readOptions);
                WriteBatch batch = new WriteBatch()) {
            for (iterator.seekToFirst(); iterator.isValid(); iterator.next()) {
                in.setBuffer(iterator.value());
                out.clear();
                rewriter.rewrite(in, out);
                batch.put(columnFamily, iterator.key(), out.getCopyOfBuffer());
                if (batch.getDataSize() > MIGRATION_BATCH_BYTES) {
                    db.write(writeOptions, batch);
                    batch.clear();
                }
            }
            iterator.status();
            if (batch.count() > 0) {
                db.write(writeOptions, batch);
            }
        } catch (IOException | RocksDBException | RuntimeException e) {
            throw new StateMigrationException(
                    "Could not migrate state from " + previous + " to " + current, e);
        }
    }

    private interface ValueRewriter {
        void rewrite(DataInputDeserializer in, DataOutputSerializer out) throws IOException;
    }

    @SuppressWarnings("unchecked")
    private static <SV> ValueRewriter rewriterFor(
            StateDescriptor.Type type, TypeSerializer<SV> previous, TypeSerializer<SV> current) {
        switch (type) {
            case LIST:
                return listRewriter(
                        ((ListSerializer<Object>) previous).getElementSerializer(),
                        ((ListSerializer<Object>) current).getElementSerializer());
            case MAP:
                TypeSerializer<Object> previousValues =
                        ((MapSerializer<?, Object>) previous).getValueSerializer();
                TypeSerializer<Object> currentValues =
                        ((MapSerializer<?, Object>) current).getValueSerializer();
                return (in, out) -> {
                    boolean isNull = in.readBoolean();
                    out.writeBoolean(isNull);
                    if (!isNull) {
                        currentValues.serialize(previousValues.deserialize(in), out);
                    }
                };
            default:
                return (in, out) -> current.serialize(previous.deserialize(in), out);
        }
    }

    private static <T> ValueRewriter listRewriter(
            TypeSerializer<T> previous, TypeSerializer<T> current) {
        return (in, out) -> {
            boolean first = true;
            while (in.available() > 0) {
                T element = ListDelimitedSerializer.deserializeNextElement(in, previous);
                if (!first) {
                    out.write(',');
                }
                current.serialize(element, out);
                first = false;
            }
        };
    }
}
