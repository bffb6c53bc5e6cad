package io.statebackend.incremental.snapshot;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.ListSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.state.ListDelimitedSerializer;
import org.apache.flink.runtime.state.RegisteredKeyValueStateBackendMetaInfo;
import org.apache.flink.runtime.state.StateSnapshotTransformer;
import org.apache.flink.runtime.state.StateSnapshotTransformer.StateSnapshotTransformFactory;
import org.apache.flink.util.FlinkRuntimeException;

import javax.annotation.Nullable;

import java.io.IOException;
import java.util.Arrays;
import java.util.Optional;

/**
 * Adapts the runtime's snapshot transformers (used by TTL's full-snapshot cleanup) to the
 * serialized layout of each state kind in RocksDB.
 */
final class SerializedStateTransformers {

    private SerializedStateTransformers() {}

    @Nullable
    @SuppressWarnings({"unchecked", "rawtypes"})
    static StateSnapshotTransformer<byte[]> forState(
            RegisteredKeyValueStateBackendMetaInfo<?, ?> metaInfo) {
        StateSnapshotTransformFactory factory = metaInfo.getStateSnapshotTransformFactory();
        switch (metaInfo.getStateType()) {
            case LIST:
                Optional<StateSnapshotTransformer<Object>> elementTransformer =
                        factory.createForDeserializedState();
                if (!elementTransformer.isPresent()) {
                    return null;
                }
                TypeSerializer<Object> elementSerializer =
                        ((ListSerializer<Object>) metaInfo.getStateSerializer())
                                .getElementSerializer()
                                .duplicate();
                return new ListTransformer(elementTransformer.get(), elementSerializer);
            case MAP:
                Optional<StateSnapshotTransformer<byte[]>> valueTransformer =
                        factory.createForSerializedState();
                return valueTransformer.map(MapValueTransformer::new).orElse(null);
            default:
                Optional<StateSnapshotTransformer<byte[]>> transformer =
                        factory.createForSerializedState();
                return transformer.orElse(null);
        }
    }

    /** Map entries carry a null flag before the user value; the transformer sees the value. */
    private static final class MapValueTransformer implements StateSnapshotTransformer<byte[]> {
        private final StateSnapshotTransformer<byte[]> valueTransformer;

        MapValueTransformer(StateSnapshotTransformer<byte[]> valueTransformer) {
            this.valueTransformer = valueTransformer;
        }

        @Nullable
        @Override
        public byte[] filterOrTransform(@Nullable byte[] value) {
            if (value == null || value.length == 0 || value[0] != 0) {
                return value;
            }
            byte[] userValue = Arrays.copyOfRange(value, 1, value.length);
            byte[] transformed = valueTransformer.filterOrTransform(userValue);
            if (transformed == null) {
                return null;
            }
            byte[] result = new byte[transformed.length + 1];
            System.arraycopy(transformed, 0, result, 1, transformed.length);
            return result;
        }
    }

    /** Filters the elements of a delimited list one by one. */
    private static final class ListTransformer<T> implements StateSnapshotTransformer<byte[]> {
        private final StateSnapshotTransformer<T> elementTransformer;
        private final TypeSerializer<T> elementSerializer;
        private final DataInputDeserializer input = new DataInputDeserializer();
        private final DataOutputSerializer output = new DataOutputSerializer(128);

        ListTransformer(
                StateSnapshotTransformer<T> elementTransformer,
                TypeSerializer<T> elementSerializer) {
            this.elementTransformer = elementTransformer;
            this.elementSerializer = elementSerializer;
        }

        @Nullable
        @Override
        public byte[] filterOrTransform(@Nullable byte[] value) {
            if (value == null) {
                return null;
            }
            try {
                input.setBuffer(value);
                output.clear();
                boolean first = true;
                while (input.available() > 0) {
                    T element =
                            ListDelimitedSerializer.deserializeNextElement(
                                    input, elementSerializer);
                    T kept = element == null ? null : elementTransformer.filterOrTransform(element);
                    if (kept != null) {
                        if (!first) {
                            output.write(',');
                        }
                        elementSerializer.serialize(kept, output);
                        first = false;
                    }
                }
                return first ? null : output.getCopyOfBuffer();
            } catch (IOException e) {
                throw new FlinkRuntimeException("Could not filter list state for a snapshot", e);
            }
        }
    }
}
