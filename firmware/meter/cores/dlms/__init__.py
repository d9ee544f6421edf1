# DLMS/COSEM server cores (sans-I/O): see server.py for the engine and objects.py for the model.
