"""What the notebooks say and ask beyond the library: their exercises and the sentences printed
under their tables. Notebooks run with this folder's parent as working directory, so
``from course.exercises import check`` finds it; nothing in ``codigem_lab`` imports it."""
