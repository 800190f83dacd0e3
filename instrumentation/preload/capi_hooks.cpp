#include "capi_hooks.h"

#include <dlfcn.h>

#include "got_patcher.h"
#include "python_api.h"
#include "runtime.h"

namespace {

// The C API functions checked, by group. A function is here when the CPython
// documentation requires an attached thread state (the GIL) to call it; functions that
// are documented as callable without it are left out (docs/capi-functions.md). Names a
// given version lacks are skipped. At most kStubCount entries (capi_stubs.S).
constexpr const char* kCheckedFunctions[] = {
    // Errors: the error indicator lives in the thread state.
    "PyErr_SetString", "PyErr_SetObject", "PyErr_SetNone", "PyErr_Format", "PyErr_FormatV", "PyErr_NoMemory",
    "PyErr_Occurred", "PyErr_Fetch", "PyErr_Restore", "PyErr_Clear", "PyErr_GetRaisedException",
    "PyErr_SetRaisedException", "PyErr_SetFromErrno", "PyErr_SetFromErrnoWithFilename", "PyErr_ExceptionMatches",
    "PyErr_GivenExceptionMatches", "PyErr_NormalizeException", "PyErr_WarnEx", "PyErr_WarnFormat", "PyErr_Print",
    "PyErr_PrintEx", "PyErr_WriteUnraisable", "PyErr_NewException", "PyErr_BadArgument", "PyErr_BadInternalCall",
    "PyException_SetTraceback", "PyException_SetCause", "PyException_SetContext",
    // Object creation: the object allocator and the type objects are interpreter state.
    "PyLong_FromLong", "PyLong_FromUnsignedLong", "PyLong_FromLongLong", "PyLong_FromUnsignedLongLong",
    "PyLong_FromSsize_t", "PyLong_FromSize_t", "PyLong_FromDouble", "PyLong_FromString", "PyFloat_FromDouble",
    "PyBool_FromLong", "PyUnicode_FromString", "PyUnicode_FromStringAndSize", "PyUnicode_FromFormat",
    "PyUnicode_FromFormatV", "PyUnicode_DecodeUTF8", "PyUnicode_FromKindAndData", "PyUnicode_FromWideChar",
    "PyUnicode_InternFromString", "PyBytes_FromString", "PyBytes_FromStringAndSize", "PyBytes_FromFormat",
    "PyByteArray_FromStringAndSize", "PyTuple_New", "PyTuple_Pack", "PyList_New", "PyDict_New", "PySet_New",
    "PyFrozenSet_New", "Py_BuildValue", "_Py_BuildValue_SizeT", "Py_VaBuildValue", "PyCapsule_New",
    "PyMemoryView_FromMemory", "PyObject_Init", "_PyObject_New", "_PyObject_GC_New", "PyType_GenericAlloc",
    "PyModule_Create2", "PyModule_AddObject", "PyModule_AddObjectRef", "PyModule_AddIntConstant",
    "PyModule_AddStringConstant",
    // Access and conversion.
    "PyObject_GetAttr", "PyObject_GetAttrString", "PyObject_SetAttr", "PyObject_SetAttrString",
    "PyObject_HasAttr", "PyObject_HasAttrString", "PyObject_GetItem", "PyObject_SetItem", "PyObject_DelItem",
    "PyObject_Str", "PyObject_Repr", "PyObject_Hash", "PyObject_IsTrue", "PyObject_RichCompare",
    "PyObject_RichCompareBool", "PyObject_GetIter", "PyIter_Next", "PyObject_Length", "PyObject_Size",
    "PyObject_IsInstance", "PyObject_GetBuffer", "PyBuffer_Release", "PyDict_GetItem", "PyDict_GetItemString",
    "PyDict_GetItemWithError", "PyDict_SetItem", "PyDict_SetItemString", "PyDict_DelItem", "PyDict_Next",
    "PyDict_Keys", "PyDict_Values", "PyDict_Items", "PyDict_Copy", "PyDict_Update", "PyList_Append",
    "PyList_Insert", "PyList_GetItem", "PyList_SetItem", "PyList_Size", "PyList_AsTuple", "PyTuple_GetItem",
    "PyTuple_SetItem", "PyTuple_Size", "PySet_Add", "PySet_Contains", "PySequence_GetItem", "PySequence_Fast",
    "PySequence_List", "PySequence_Tuple", "PyNumber_Long", "PyNumber_Float", "PyNumber_Index", "PyLong_AsLong",
    "PyLong_AsLongLong", "PyLong_AsSsize_t", "PyLong_AsUnsignedLong", "PyLong_AsDouble", "PyFloat_AsDouble",
    "PyUnicode_AsUTF8", "PyUnicode_AsUTF8AndSize", "PyUnicode_AsUTF8String", "PyUnicode_AsEncodedString",
    "PyBytes_AsString", "PyBytes_AsStringAndSize", "PyBytes_Size", "PyCapsule_GetPointer", "PyArg_ParseTuple",
    "PyArg_ParseTupleAndKeywords", "_PyArg_ParseTuple_SizeT", "_PyArg_ParseTupleAndKeywords_SizeT",
    "PyArg_UnpackTuple", "PyImport_ImportModule", "PyImport_Import",
    // Calls run Python code.
    "PyObject_Call", "PyObject_CallObject", "PyObject_CallFunction", "_PyObject_CallFunction_SizeT",
    "PyObject_CallFunctionObjArgs", "PyObject_CallMethod", "_PyObject_CallMethod_SizeT",
    "PyObject_CallMethodObjArgs", "PyObject_CallNoArgs", "PyObject_CallOneArg", "PyObject_Vectorcall",
    "PyObject_VectorcallMethod", "PyObject_VectorcallDict", "PyEval_CallObjectWithKeywords",
    // Reference counts and the object allocator (not PyMem_Raw*, which is thread-safe).
    "Py_IncRef", "Py_DecRef", "_Py_Dealloc", "PyObject_Malloc", "PyObject_Calloc", "PyObject_Realloc",
    "PyObject_Free", "PyMem_Malloc", "PyMem_Calloc", "PyMem_Realloc", "PyMem_Free", "PyObject_GC_Track",
    "PyObject_GC_UnTrack", "PyObject_GC_Del",
};

constexpr int kStubCount = 192;  // stubs in capi_stubs.S
constexpr int kFunctionCount = int(sizeof(kCheckedFunctions) / sizeof(kCheckedFunctions[0]));
static_assert(kFunctionCount <= kStubCount, "more checked functions than stubs in capi_stubs.S");

gilwatch::got::Hook g_hooks[kStubCount];
int g_hook_count = 0;  // resolved hooks, compacted at the front of g_hooks
bool g_resolved = false;

}  // namespace

extern "C" {
// The real function of each stub index; read by the stubs (capi_stubs.S). Every entry
// is set before any slot points to its stub.
__attribute__((visibility("hidden"))) void* gilwatch_capi_originals[kStubCount];
extern void* gilwatch_capi_stub_table[kStubCount];

__attribute__((visibility("hidden"))) void gilwatch_capi_check(uint32_t index, uintptr_t caller_pc) {
  gilwatch::preload::on_capi_call(int(index), caller_pc);
}
}

namespace gilwatch::preload {

int capi_function_count() { return kFunctionCount; }

const char* capi_function_name(int index) {
  return index >= 0 && index < kFunctionCount ? kCheckedFunctions[index] : "?";
}

void install_capi_hooks() {
#if defined(__x86_64__)
  if (!g_options.capi_checks || !g_python.loaded.load(std::memory_order_acquire)) return;
  if (!g_resolved) {
    // Resolve every original before any slot is patched: a stub must never find its
    // original missing. Only resolved names are handed to the patcher.
    for (int i = 0; i < kFunctionCount; ++i) {
      void* original = dlsym(RTLD_DEFAULT, kCheckedFunctions[i]);
      if (!original) continue;
      gilwatch_capi_originals[i] = original;
      g_hooks[g_hook_count++] = got::Hook{kCheckedFunctions[i], gilwatch_capi_stub_table[i], original};
    }
    g_resolved = true;
  }
  static const void* self = reinterpret_cast<const void*>(&install_capi_hooks);
  got::patch_loaded_objects(g_hooks, std::size_t(g_hook_count), self);
#endif
}

}  // namespace gilwatch::preload
