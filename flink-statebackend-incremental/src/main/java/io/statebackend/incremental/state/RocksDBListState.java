package io.statebackend.incremental.state;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.ListSerializer;
import org.apache.flink.runtime.state.ListDelimitedSerializer;
import org.apache.flink.runtime.state.internal.InternalListState;
import org.apache.flink.util.Preconditions;

import org.rocksdb.RocksDBException;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * List state in Flink's delimited list encoding. Appends are RocksDB merges, so adding an element
 * never reads the list.
 */
public class RocksDBListState<K, N, V> extends AbstractRocksDBState<K, N, List<V>>
        implements InternalListState<K, N, V> {

    private final ListDelimitedSerializer listSerializer = new ListDelimitedSerializer();
    private TypeSerializer<V> elementSerializer;

    public RocksDBListState(
            RocksDBStateContext<K> backend,
            String stateName,
            TypeSerializer<N> namespaceSerializer,
            TypeSerializer<List<V>> valueSerializer) {
        super(backend, stateName, namespaceSerializer, valueSerializer);
        this.elementSerializer = ((ListSerializer<V>) valueSerializer).getElementSerializer();
    }

    @Override
    public void updateSerializers(
            TypeSerializer<N> namespaceSerializer, TypeSerializer<List<V>> valueSerializer) {
        super.updateSerializers(namespaceSerializer, valueSerializer);
        this.elementSerializer = ((ListSerializer<V>) valueSerializer).getElementSerializer();
    }

    @Override
    public Iterable<V> get() throws IOException {
        return getInternal();
    }

    @Override
    public List<V> getInternal() throws IOException {
        int keyLength = writeCurrentKeyAndNamespace();
        if (!readIntoValueInput(keyBuilder().buffer(), keyLength)) {
            return null;
        }
        List<V> result = new ArrayList<>();
        V element;
        while ((element =
                        ListDelimitedSerializer.deserializeNextElement(
                                valueInput, elementSerializer))
                != null) {
            result.add(element);
        }
        return result;
    }

    private List<V> deserializeList(byte[] bytes) throws IOException {
        if (bytes == null) {
            return null;
        }
        return listSerializer.deserializeList(bytes, elementSerializer);
    }

    @Override
    public void add(V value) throws IOException {
        Preconditions.checkNotNull(value, "You cannot add null to a ListState.");
        writeToValueOutput(value, elementSerializer);
        int keyLength = writeCurrentKeyAndNamespace();
        try {
            backend.getDb()
                    .merge(
                            columnFamily,
                            backend.getWriteOptions(),
                            keyBuilder().buffer(),
                            0,
                            keyLength,
                            valueOutput.getSharedBuffer(),
                            0,
                            valueOutput.length());
        } catch (RocksDBException e) {
            throw new IOException("Could not append to list state '" + stateName + "'", e);
        }
    }

    @Override
    public void update(List<V> values) throws IOException {
        Preconditions.checkNotNull(values, "List of values to add cannot be null.");
        if (values.isEmpty()) {
            clear();
            return;
        }
        try {
            backend.getDb()
                    .put(
                            columnFamily,
                            backend.getWriteOptions(),
                            currentKeyAndNamespace(),
                            serializeList(values));
        } catch (RocksDBException e) {
            throw new IOException("Could not update list state '" + stateName + "'", e);
        }
    }

    @Override
    public void updateInternal(List<V> values) throws IOException {
        update(values);
    }

    @Override
    public void addAll(List<V> values) throws IOException {
        Preconditions.checkNotNull(values, "List of values to add cannot be null.");
        if (values.isEmpty()) {
            return;
        }
        merge(currentKeyAndNamespace(), serializeList(values));
    }

    private byte[] serializeList(List<V> values) throws IOException {
        for (V value : values) {
            Preconditions.checkNotNull(value, "You cannot add null to a ListState.");
        }
        return listSerializer.serializeList(values, elementSerializer);
    }

    private void merge(byte[] key, byte[] serializedElements) throws IOException {
        try {
            backend.getDb().merge(columnFamily, backend.getWriteOptions(), key, serializedElements);
        } catch (RocksDBException e) {
            throw new IOException("Could not append to list state '" + stateName + "'", e);
        }
    }

    @Override
    public List<V> readStateEntry(List<byte[]> rawKeys, List<byte[]> rawValues) throws IOException {
        return deserializeList(rawValues.get(0));
    }

    @Override
    public void writeStateEntry(List<byte[]> rawKeys, List<byte[]> rawValues, List<V> newValue)
            throws IOException {
        // an empty list is no list
        super.writeStateEntry(
                rawKeys, rawValues, newValue == null || newValue.isEmpty() ? null : newValue);
    }

    @Override
    protected byte[] serializeStateEntry(List<V> value) throws IOException {
        return serializeList(value);
    }

    @Override
    public void mergeNamespaces(N target, Collection<N> sources) throws IOException {
        if (sources == null || sources.isEmpty()) {
            return;
        }
        byte[] targetKey = keyAndNamespace(target);
        try {
            for (N source : sources) {
                if (source == null) {
                    continue;
                }
                byte[] sourceKey = keyAndNamespace(source);
                byte[] bytes = getRaw(sourceKey);
                if (bytes != null) {
                    backend.getDb().delete(columnFamily, backend.getWriteOptions(), sourceKey);
                    // the encoded list is itself a valid operand of the append merge
                    merge(targetKey, bytes);
                }
            }
        } catch (RocksDBException e) {
            throw new IOException(
                    "Could not merge namespaces of list state '" + stateName + "'", e);
        }
    }
}
